"""The errors every layer raises, and the exit codes the command line maps them to.

Exit codes: 0 every item succeeded, 1 some items failed (each has an ``error`` cell), 2 usage
error (bad flags, missing input, unknown or uninstalled model), 130 interrupted (Ctrl-C; the
shell's code for SIGINT).
"""

from __future__ import annotations

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class InputError(Exception):
    """A bad input file: becomes the item's one-line ``error`` cell, never a crashed run."""


class UsageError(Exception):
    """Bad flags or missing input: one line on stderr and exit code 2."""


class ModelUnavailable(UsageError):
    """A model id that is unknown, not installed, or whose weights fail their hash check."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: one line saying how far it got and that a re-run resumes."""
