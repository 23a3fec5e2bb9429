"""The local engine: decode in a thread pool, process in batches, yield rows as they finish.

Decoding (file IO and media libraries that release the GIL) runs in ``workers`` threads;
``task.process`` runs batches in the calling thread while the pool reads ahead. At most
``prefetch_limit`` items are decoded and waiting at any time, so memory does not grow with
the number of items. One bad item never stops the others: a failed check or ``decode`` gives
that item an error row, and a batch whose ``process`` raises is retried one item at a time,
so only the item that fails again gets the error row. A batch that runs out of memory is
retried in halves instead. An error that is not about the item (``errors.is_systemic``: a
missing module, a device failure, a single item out of memory) is never an error row: it
raises ``SystemicError`` at once, and the run stops.

The helpers ``check_files``, ``decode_item`` and ``process_batch`` are the stages the Ray
engine runs too, so both engines give the same rows.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mmfuse.errors import InputError, SystemicError, is_out_of_memory, is_systemic
from mmfuse.io.discover import sniff_kind
from mmfuse.tasks.base import Task
from mmfuse.types import Item, media_kind

if TYPE_CHECKING:
    from mmfuse.engines.options import RunOptions

log = logging.getLogger(__name__)

# A missing file's error: a file the input names must exist, so the item fails.
MISSING = "file not found"
# An error cell is one line of at most this many characters.
ERROR_MAX_CHARS = 300
# Sniffed content kinds each extension kind accepts ("av": a container of audio or video).
COMPATIBLE_CONTENT = {
    "text": set(),
    "document": {"document"},
    "image": {"image"},
    "audio": {"audio", "video", "av"},
    "video": {"audio", "video", "av"},
}


def error_message(error: BaseException) -> str:
    """One line for an error cell: the message of an InputError, else "Type: message"."""
    own = isinstance(error, InputError | SystemicError)
    text = str(error) if own else f"{type(error).__name__}: {error}"
    line = " ".join(text.split()) or type(error).__name__
    return line if len(line) <= ERROR_MAX_CHARS else line[: ERROR_MAX_CHARS - 3] + "..."


def error_row(item: Item, message: str) -> dict:
    """The row of an item that failed: its id and the one-line error."""
    return {"id": item.id, "error": message}


def _check_file(path: os.PathLike) -> str | None:
    full, name = os.fspath(path), os.path.basename(path)
    try:
        info = os.stat(full)
    except FileNotFoundError:
        return f"{name}: {MISSING}" + (" (broken link)" if os.path.islink(full) else "")
    except OSError as error:
        return f"{name}: cannot read ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{name}: not a regular file"
    if not os.access(full, os.R_OK):
        return f"{name}: cannot read (permission denied)"
    if info.st_size == 0:
        return f"{name}: empty file"
    kind, content = media_kind(full), sniff_kind(full)
    if kind is None:
        looks = f"; its content looks like {content}" if content else ""
        return f"{name}: unsupported file type {os.path.splitext(name)[1] or '(none)'}{looks}"
    if content is not None and content not in COMPATIBLE_CONTENT[kind]:
        return f"{name}: content looks like {content}, not {kind} (wrong file extension?)"
    return None


def check_files(item: Item) -> tuple[Item, str | None]:
    """The item without the files no reader should open, or its error when nothing is left.

    Catches what needs no decoder: a missing, unreadable, empty or non-regular file (never
    opened, so a FIFO cannot hang the run), an unsupported type, content that contradicts
    the extension. Opens nothing but regular files, read-only, for their first bytes. A bad
    file beside others (an empty photo next to its caption) is left out with a note; the
    item fails when a file it names is missing or when nothing readable remains.
    """
    if item.error:
        return item, item.error
    if not item.paths and item.text is None:
        return item, "no input files"
    problems = [(path, _check_file(path)) for path in item.paths]
    bad = [problem for _, problem in problems if problem]
    if not bad:
        return item, None
    good = tuple(path for path, problem in problems if not problem)
    missing = [problem for problem in bad if MISSING in problem]
    if missing or (not good and item.text is None):
        return item, (missing or bad)[0]
    return replace(item, paths=good, notes=(*item.notes, *bad)), None


def decode_item(task: Task, item: Item) -> tuple[Item, Any, str | None]:
    """``(item, decoded, None)``, or ``(item, None, error message)`` when it cannot be decoded;
    the item returned is the one to process (bad files beside good ones left out)."""
    given = item
    item, problem = check_files(item)
    if problem:
        return item, None, task.item_message(given, problem)
    item = replace(item, notes=tuple(task.item_message(given, note) for note in item.notes))
    try:
        return item, task.decode(item), None
    except Exception as error:  # a bad file must not stop the run: it becomes its error cell
        if is_systemic(error):
            raise SystemicError(error_message(error)) from error
        message = task.item_message(given, error_message(error))
        # no traceback when the task hid something of the message: it would repeat it
        trace = message == error_message(error)
        log.debug("decode failed for %s: %s", item.id, message, exc_info=trace)
        return item, None, message


def _rows_of(task: Task, batch: Sequence[tuple[Item, Any]]) -> list[dict]:
    rows = task.process(batch)
    if len(rows) != len(batch):
        raise RuntimeError(f"task returned {len(rows)} rows for {len(batch)} items")
    for (item, _), row in zip(batch, rows, strict=True):
        row["id"] = item.id
        row["error"] = row.get("error") or ""
        if item.notes and "notes" in task.columns:
            row["notes"] = "; ".join(n for n in (*item.notes, row.get("notes")) if n)
    return rows


def _empty_cuda_cache() -> None:
    import torch  # imported already: it raised the out-of-memory error

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def process_batch(task: Task, batch: Sequence[tuple[Item, Any]]) -> list[dict]:
    """One row per (item, decoded) pair, in order.

    A batch that runs out of memory is retried in halves; one that fails otherwise is retried
    item by item, so only the item that fails again gets an error row.

    Raises:
        SystemicError: an error not about the item (``is_systemic``), a lone item out of
            memory included; never retried item by item.
    """
    try:
        return _rows_of(task, batch)
    except Exception as error:
        halve = is_out_of_memory(error) and len(batch) > 1
        if is_systemic(error) and not halve:
            raise SystemicError(error_message(error)) from error
        if len(batch) == 1:
            log.debug("process failed for %s", batch[0][0].id, exc_info=True)
            return [error_row(batch[0][0], error_message(error))]
        retry = "in halves" if halve else "one by one"
        log.debug("batch of %d failed (%s); retrying %s", len(batch), error, retry)
    # out of the except block, so the error no longer holds the failed batch's tensors
    if halve:
        _empty_cuda_cache()
        parts = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
    else:
        parts = [[pair] for pair in batch]
    return [row for part in parts for row in process_batch(task, part)]


def prefetch_limit(options: RunOptions) -> int:
    """How many decoded items may wait in memory: two batches, or two per worker."""
    return max(2 * options.batch_size, 2 * options.workers)


def run_local(task: Task, items: Iterable[Item], options: RunOptions) -> Iterator[dict]:
    """Runs ``task`` over ``items`` in this process; yields one row per item as it finishes.

    Rows arrive in completion order; each has the item's ``id`` and an ``error`` cell ("" on
    success). ``task.setup()`` is called once, when the first row is asked for.

    Args:
        task: the pipeline.
        items: the items to compute (the runner has taken cached ones out).
        options: ``workers`` decode threads, ``batch_size`` items per ``process`` call.
    """
    task.setup()
    todo = iter(enumerate(items))
    limit = prefetch_limit(options)
    pending: dict[Future, tuple[int, Item]] = {}
    ready: list[tuple[Item, Any]] = []  # decoded, waiting for a batch
    pool = ThreadPoolExecutor(options.workers, thread_name_prefix="mmfuse-decode")
    try:
        while True:
            while len(pending) + len(ready) < limit and (job := next(todo, None)) is not None:
                pending[pool.submit(decode_item, task, job[1])] = job
            if not pending and not ready:
                return
            if pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f][0]):
                    pending.pop(future)
                    item, decoded, problem = future.result()
                    if problem:
                        yield error_row(item, problem)
                    else:
                        ready.append((item, decoded))
            while len(ready) >= options.batch_size or (ready and not pending):
                batch, ready = ready[: options.batch_size], ready[options.batch_size :]
                yield from process_batch(task, batch)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
