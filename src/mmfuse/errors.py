"""The errors every layer raises, and the exit codes the command line maps them to.

Exit codes: 0 every item succeeded, 1 some items failed (each has an ``error`` cell), 2 usage
error (bad flags, missing input, unknown or uninstalled model), 3 the run stopped on a
systemic error (one not about the input: a missing dependency, a device or model failure; the
finished rows are journaled and the same command resumes once the cause is fixed), 130
interrupted (Ctrl-C; the shell's code for SIGINT).
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_SYSTEMIC, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Parts of torch's RuntimeError messages that are about the device, never about an item.
DEVICE_ERRORS = (
    "Expected all tensors to be on the same device",
    "CUDA",  # "CUDA error: ...", "CUDA driver version is insufficient", "no CUDA GPUs ..."
    "cuDNN",
    "CUBLAS",
    "device-side assert",
    "out of memory",  # "MPS backend out of memory"
    "not enough memory",  # "DefaultCPUAllocator: not enough memory"
)


class InputError(Exception):
    """A bad input file: becomes the item's one-line ``error`` cell, never a crashed run."""


class UsageError(Exception):
    """Bad flags or missing input: one line on stderr and exit code 2."""


class ModelUnavailable(UsageError):
    """A model id that is unknown, not installed, or whose weights fail their hash check."""


class SystemicError(Exception):
    """An error that would fail every item the same way: the run stops, exit code 3."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: one line saying how far it got and that a re-run resumes."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch's OutOfMemoryError (``torch.cuda.OutOfMemoryError`` too)."""
    torch = sys.modules.get("torch")  # never imported: no torch error can have happened
    return torch is not None and isinstance(error, torch.OutOfMemoryError)


def is_systemic(error: BaseException) -> bool:
    """Whether ``error``, raised while an item was decoded or processed, is not about the item.

    By type: ImportError (a missing or half-imported module), MemoryError, torch's
    OutOfMemoryError (the engine first retries the batch in halves), ModelUnavailable,
    SystemicError; and a RuntimeError naming a device failure (``DEVICE_ERRORS``). Anything
    else (InputError, a decoder's error on a corrupt file) is the item's own: its row's
    ``error`` cell.
    """
    if isinstance(error, ImportError | MemoryError | ModelUnavailable | SystemicError):
        return True
    if is_out_of_memory(error):
        return True
    return isinstance(error, RuntimeError) and any(part in str(error) for part in DEVICE_ERRORS)
