"""Looking for personal data left in a run's files, cache and logs, for the privacy tests."""

from __future__ import annotations

import re


def leaked(fragments, text):
    """The first of fragments found in text, case aside, or None.

    A fragment of digits only counts as a whole number: "7946" turns up by chance inside cache
    keys, salted hashes and long decimals, never beside a space or a dash as a leaked phone
    number's part would.
    """
    lowered = text.lower()
    for fragment in fragments:
        pattern = re.escape(fragment.lower())
        if fragment.isdigit():
            pattern = rf"(?<![0-9a-f.]){pattern}(?![0-9a-f])"
        if re.search(pattern, lowered):
            return fragment
    return None
