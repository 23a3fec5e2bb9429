"""Looking for personal data left in a run's files, cache and logs, for the privacy tests."""

from __future__ import annotations

import re

# A run of hexadecimal characters: a number, or a cache key, salted hash or digest.
_HEX_RUN_RE = re.compile(r"[0-9a-f]+")


def leaked(fragments, text):
    """The first of fragments found in text, case aside, or None.

    A fragment of digits counts inside a number ("+44 7700 900123", "+447700900123"), not
    inside a run of hexadecimal characters with a letter in it (a cache key, a salted hash)
    or a decimal's fraction ("0.17946"), where a few digits turn up by chance.
    """
    lowered = text.lower()
    for fragment in fragments:
        if not fragment.isdigit():
            if fragment.lower() in lowered:
                return fragment
            continue
        for run in _HEX_RUN_RE.finditer(lowered):
            number = run.group()
            fraction = run.start() > 0 and lowered[run.start() - 1] == "."
            if fragment in number and number.isdigit() and not fraction:
                return fragment
    return None
