"""A whole run: cache and journal, an engine over the rest, then the output files.

``run_task`` hashes every item (``cache.content_key``), takes rows already in the run's
journal (a killed run) or in the results cache, hands only the rest to an engine, and
journals each row as it finishes (``OUT/results.partial/``, a ``Cache``), so ``kill -9`` at
any moment loses at most the rows being computed. At the end it writes, each atomically and
in the items' order, ``results.csv`` (formula-safe), ``results.parquet`` (with array
columns), the task's extra outputs and ``manifest.json``, then drops the journal. The table
is read back from the journal in every case, so a resumed run and an uninterrupted one write
the same bytes.

A systemic error (``errors.is_systemic``: a missing module, a device failure) stops the run at
its first occurrence; the journal keeps the rows finished before it, so the same command
resumes once the cause is fixed.

Only successful rows enter the results cache: errors (a missing file, a bug since fixed)
are retried on the next run. Every task option keys the cache (``keyed_settings``) but those
declared as changing no row. A run is "the same run" as the one that wrote ``OUT`` when the
task, its settings, every option and the inputs' common folder agree; re-running it resumes or
refreshes, while a different run into the same folder needs ``--overwrite``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import shlex
import shutil
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mmfuse import __version__, config
from mmfuse.cache import Cache, content_key, default_results_dir, file_digest, make_key
from mmfuse.engines.local import error_message, error_row, run_local
from mmfuse.engines.options import RunOptions
from mmfuse.errors import Interrupted, SystemicError, UsageError
from mmfuse.io.writers import atomic_write, read_table, write_csv, write_json, write_parquet
from mmfuse.progress import progress_bar, progress_enabled, progress_logged
from mmfuse.registry import BACKENDS, SPECS, model_digest, model_record
from mmfuse.report.page import render
from mmfuse.report.run import REPORT_HTML, run_page
from mmfuse.tasks.base import Task
from mmfuse.tasks.options import row_record, to_record
from mmfuse.types import Item

log = logging.getLogger(__name__)

# Length of a ``make_key`` hex digest (the identity of a run without a named input).
KEY_LENGTH = 64
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
MANIFEST = "manifest.json"
# The journal folder of an unfinished run: a Cache of its rows and RUN_FILE, its identity.
JOURNAL = "results.partial"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunResult:
    """What a run did: counts and the files it wrote."""

    total: int  # items in the table
    rows_ok: int
    rows_failed: int
    from_cache: int  # rows taken from the results cache
    resumed: int  # rows taken from the journal of an interrupted run
    seconds: float
    outputs: tuple[Path, ...] = field(default_factory=tuple)


def keyed_settings(task: Task, settings: dict) -> tuple[dict, dict]:
    """The settings of the run's identity and of each row's cache key: ``settings`` with the
    task's options, every one for the identity (``finish``'s outputs may depend on any), those
    a row depends on (``row_record``) for the rows, so no option can be left out by mistake."""
    return (
        {**settings, "options": to_record(task.options)},
        {**settings, "options": row_record(task.options)},
    )


def run_identity(
    task_name: str,
    settings: dict,
    items: Sequence[Item],
    source: Path | None = None,
    out_dir: Path | None = None,
) -> dict[str, str]:
    """What makes two runs "the same run": task, settings and the input.

    The input is ``source`` (the folder, file or manifest named on the command line, written
    relative to ``out_dir``, so the manifest names no absolute path; a manifest also by its
    content's hash, since its rows are the items), else the items' common folder, else a hash
    of their ids.
    """
    identity = {"task": task_name, "settings": make_key(settings)}
    if source is not None:
        identity["inputs"] = os.path.relpath(
            os.path.abspath(source), os.path.abspath(out_dir or ".")
        )
        if Path(source).is_file():
            identity["inputs_sha256"] = file_digest(source)
        return identity
    paths = [os.path.abspath(p) for item in items for p in item.paths]
    ids = make_key(sorted(i.id for i in items))
    identity["inputs"] = os.path.commonpath(paths) if paths else ids
    return identity


def _previous_run(out_dir: Path) -> tuple[dict | None, list[str]]:
    """The identity of the run that wrote ``out_dir`` (None if unknown) and its outputs."""
    for path in (out_dir / JOURNAL / RUN_FILE, out_dir / MANIFEST):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return record["run"], record.get("outputs", [])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None, []


def _named(inputs: str | None, out_dir: Path) -> str:
    """An identity's input as the user named it: a path relative to ``out_dir`` made whole."""
    if not inputs or os.path.isabs(inputs) or len(inputs) == KEY_LENGTH:  # a hash of the ids
        return str(inputs)
    return os.path.normpath(os.path.join(os.path.abspath(out_dir), inputs))


def _difference(previous: dict | None, identity: dict, out_dir: Path) -> str:
    if previous is None:
        return "results of an unknown run"
    if previous.get("task") != identity["task"]:
        return f"results of another task ({previous.get('task')})"
    if previous.get("inputs") != identity["inputs"]:
        return f"results of another input ({_named(previous.get('inputs'), out_dir)})"
    if previous.get("inputs_sha256") != identity.get("inputs_sha256"):
        named = _named(identity["inputs"], out_dir)
        return f"results of another version of {named} (its content changed)"
    if previous.get("settings") != identity["settings"]:
        return "results of a run with another settings (models, options)"
    return ""


def _open_journal(out_dir: Path, identity: dict, overwrite: bool) -> Cache:
    """The run's journal in ``out_dir``, after refusing or clearing another run's outputs."""
    previous, previous_outputs = _previous_run(out_dir)
    ours = [RESULTS_CSV, RESULTS_PARQUET, MANIFEST, JOURNAL, *previous_outputs]
    existing = [out_dir / n for n in dict.fromkeys(ours) if (out_dir / n).exists()]
    different = _difference(previous, identity, out_dir)
    if existing and different and not overwrite:
        raise UsageError(
            f"{out_dir} already holds {different}; pass --overwrite or choose another --out"
        )
    try:
        if existing and overwrite:
            for path in existing:
                if path.resolve().parent != out_dir.resolve():  # never outside out_dir
                    continue
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        config.make_dir(out_dir)
        journal = Cache(out_dir / JOURNAL)
        write_json({"run": identity}, out_dir / JOURNAL / RUN_FILE)
    except (OSError, sqlite3.Error) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot write to {out_dir}: {reason}") from None
    return journal


def _open_cache(options: RunOptions) -> Cache | None:
    if not options.use_cache:
        return None
    folder = options.cache_dir / "results" if options.cache_dir else default_results_dir()
    try:
        return Cache(folder)
    except (OSError, sqlite3.Error) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(
            f"cannot use the cache in {folder}: {reason} (or pass --no-cache)"
        ) from None


class _JournalRows(Sequence):
    """The final rows in item order, read from the journal on demand (memory stays flat)."""

    def __init__(self, journal: Cache, keys: list[str]):
        self._journal, self._keys = journal, keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        row = self._journal.get(self._keys[index])
        if row is None:
            raise RuntimeError(f"row {index} missing from the journal")
        return row


def _model_ids(settings: Any) -> list[str]:
    """Model ids named anywhere in the settings: registered ones and ``backend:path`` ones."""
    found: set[str] = set()
    pending = [settings]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
        elif isinstance(value, str) and (value in SPECS or value.partition(":")[0] in BACKENDS):
            found.add(value)
    return sorted(found)


def _compute(task, todo, options, journal, cache, key_of, bar) -> None:
    """Runs the engine over ``todo``, journaling (and caching) each row as it arrives."""
    if options.engine == "ray":
        from mmfuse.engines.ray import run_ray as engine
    else:
        engine = run_local
    for row in engine(task, todo, options):
        key = key_of[row["id"]]
        try:
            journal.put(key, row)
        except (TypeError, ValueError) as error:  # the task produced an unstorable value
            row = error_row(Item(row["id"]), error_message(error))
            journal.put(key, row)
        if cache is not None and not row["error"]:
            cache.put(key, row)
        if row["error"]:
            log.info("%s: %s", row["id"], row["error"])
        bar.advance(failed=bool(row["error"]))


def _content_keys(items, settings, cache, workers: int, show: bool) -> list[str]:
    """Every item's cache key, hashing files in ``workers`` threads."""
    keys: list[str] = []
    with ThreadPoolExecutor(workers) as pool, progress_bar(len(items), show, "hashing") as bar:
        for key in pool.map(lambda item: content_key(item, settings, cache), items):
            keys.append(key)
            bar.advance()
    return keys


def _reuse(items, keys, journal: Cache, cache: Cache | None) -> tuple[list[Item], int, int]:
    """The items still to compute, and how many rows the journal and the cache already hold."""
    todo, resumed, from_cache = [], 0, 0
    for item, key in zip(items, keys, strict=True):
        if key in journal:
            resumed += 1
        elif cache is not None and (row := cache.get(key)) is not None:
            journal.put(key, row)
            from_cache += 1
        else:
            todo.append(item)
    return todo, resumed, from_cache


def _write_tables(rows: _JournalRows, columns: Sequence[str], out_dir: Path) -> list[dict]:
    """Writes results.csv and results.parquet; returns the failed rows' ids and errors."""
    failures: list[dict] = []

    def tracked():
        for row in rows:
            if row.get("error"):
                failures.append({"id": row["id"], "error": row["error"]})
            yield row

    with atomic_write(out_dir / RESULTS_CSV) as stream:
        write_csv(tracked(), columns, stream)
    write_parquet(rows, out_dir / RESULTS_PARQUET, columns)
    return failures


def read_results(out_dir: Path) -> tuple[list[dict], list[str]]:
    """A finished run's rows and scalar columns as written (``read_table``).

    Raises:
        UsageError: neither results.parquet nor results.csv is there.
    """
    try:
        return read_table(out_dir / RESULTS_PARQUET, out_dir / RESULTS_CSV)
    except FileNotFoundError:
        raise UsageError(f"{out_dir} holds no {RESULTS_PARQUET} or {RESULTS_CSV}") from None


def write_report(
    task: type[Task] | Task,
    rows: Sequence[dict],
    columns: Sequence[str],
    record: dict,
    out_dir: Path,
    files: dict[str, Sequence[Path]] | None = None,
) -> Path:
    """Writes ``OUT/report.html``: the run's page with the task's own sections.

    Args:
        task: the task (class or instance) whose ``report_sections`` add its charts.
        rows: the final rows, in order.
        columns: the table's columns.
        record: the run's manifest record.
        out_dir: the output folder.
        files: item id -> its media files, for thumbnails (none shown without them).
    """
    sections = task.report_sections(rows, out_dir, files or {})
    page = run_page(record, task.report_rows(rows), columns, sections)
    with atomic_write(out_dir / REPORT_HTML) as stream:
        stream.write(render(page))
    return out_dir / REPORT_HTML


@contextlib.contextmanager
def _locked(out_dir: Path):
    """Holds an exclusive lock on ``out_dir`` (created) while a run writes there."""
    try:
        config.make_dir(out_dir)
        folder = os.open(out_dir, os.O_RDONLY)
    except OSError as error:
        raise UsageError(f"cannot write to {out_dir}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another mmfuse run is writing to {out_dir}; wait for it or choose another --out"
            ) from None
        yield
    finally:
        os.close(folder)  # releases the lock


def run_task(
    task: Task,
    items: Sequence[Item],
    out_dir: Path,
    options: RunOptions,
    argv: list[str],
    source: Path | None = None,
) -> RunResult:
    """Runs ``task`` over ``items`` into ``out_dir``; resumable, cached, never clobbering.

    Args:
        task: the pipeline (``setup`` runs only if some item is not cached).
        items: the items, in the order of the output table; ids must be unique.
        out_dir: the output folder (created).
        options: how to run.
        argv: the command line, recorded in the manifest.
        source: the input named on the command line (part of the run's identity).

    Returns:
        Counts and output paths; ``exit_code(result)`` gives the process exit code.

    Raises:
        UsageError: repeated item ids, ``out_dir`` not writable, holding a different run's
            results or being written by another run right now, or an unusable cache folder.
        Interrupted: Ctrl-C; the rows computed so far stay in the journal for a re-run.
        SystemicError: an error not about the input stopped the run; the rows computed so
            far stay in the journal for a re-run once its cause is fixed.
    """
    started, clock = datetime.now(UTC), time.perf_counter()
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise UsageError(f"item id {item.id!r} appears twice")
        seen.add(item.id)
    settings = task.settings()
    # a model given by path is keyed by its files' content, not by the path string
    if weights := {i: model_digest(i) for i in _model_ids(settings)}:
        settings = {**settings, "weights": weights}
    out_dir = Path(out_dir)
    run_settings, row_settings = keyed_settings(task, settings)
    identity = run_identity(task.name, run_settings, items, source, out_dir)
    with _locked(out_dir):
        return _run_locked(
            task, items, out_dir, options, argv, settings, row_settings, identity, started, clock
        )


def _progress(keys: list[str], journal: Cache) -> str:
    """How far a stopped run got, and how to go on."""
    done = sum(1 for key in keys if key in journal)
    return f"{done} of {len(keys)} items are done; run the same command again"


def _run_locked(
    task, items, out_dir, options, argv, settings, row_settings, identity, started, clock
):
    """``run_task`` once it holds the output folder's lock."""
    journal = _open_journal(out_dir, identity, options.overwrite)
    cache = _open_cache(options)
    show = progress_enabled(options.progress, options.quiet)

    keys = _content_keys(items, row_settings, cache, options.workers, show)
    todo, resumed, from_cache = _reuse(items, keys, journal, cache)
    hashed = time.perf_counter()
    log.info(
        "%d items: %d cached, %d resumed, %d to compute", len(items), from_cache, resumed, len(todo)
    )
    try:
        logged = progress_logged(options.progress, options.quiet)
        done = len(items) - len(todo)
        with progress_bar(len(items), show, task.name, done, logged) as bar:
            if todo:
                key_of = {item.id: key for item, key in zip(items, keys, strict=True)}
                _compute(task, todo, options, journal, cache, key_of, bar)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {_progress(keys, journal)} to resume") from None
    except SystemicError as error:
        raise SystemicError(
            f"{error} (the run stopped: {_progress(keys, journal)} once this is fixed)"
        ) from error
    computed = time.perf_counter()

    rows = task.complete(_JournalRows(journal, keys))
    failures = _write_tables(rows, task.columns, out_dir)
    extra = task.finish(rows, out_dir)
    report = (out_dir / REPORT_HTML,) if options.report else ()
    outputs = (
        out_dir / RESULTS_CSV,
        out_dir / RESULTS_PARQUET,
        *extra,
        *report,
        out_dir / MANIFEST,
    )
    finished = time.perf_counter()
    record = {
        "mmfuse_version": __version__,
        "command": shlex.join(argv),
        "argv": argv,
        "run": identity,
        "task": task.name,
        "settings": settings,
        # the models that produced the rows, not every one the settings could name
        "models": task.models_used(rows, [model_record(i) for i in _model_ids(settings)]),
        # the resolved options: `--config` accepts both records as they are, to repeat the run
        "options": to_record(task.options),
        "run_options": {
            k: v for k, v in to_record(options).items() if k not in ("quiet", "verbose")
        },
        "items": {
            "total": len(items),
            "ok": len(items) - len(failures),
            "failed": len(failures),
            "from_cache": from_cache,
            "resumed": resumed,
            "computed": len(todo),
        },
        "timings": {
            "started": started.isoformat(timespec="seconds"),
            "hash_s": round(hashed - clock, 3),
            "compute_s": round(computed - hashed, 3),
            "write_s": round(finished - computed, 3),
            "total_s": round(finished - clock, 3),
            "computed_per_s": round(len(todo) / max(computed - hashed, 1e-9), 3),
        },
        "failures": failures,
        "outputs": [os.path.relpath(p, out_dir) for p in outputs],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if options.report:  # from the tables as written (a task's finish may have added to them)
        files = {item.id: item.paths for item in items}
        write_report(task, *read_results(out_dir), record, out_dir, files)
    write_json(record, out_dir / MANIFEST)
    journal.close()
    shutil.rmtree(out_dir / JOURNAL, ignore_errors=True)
    log.info(
        "%d items, %d failed, in %.1f s: %s", len(items), len(failures), finished - clock, out_dir
    )
    return RunResult(
        total=len(items),
        rows_ok=len(items) - len(failures),
        rows_failed=len(failures),
        from_cache=from_cache,
        resumed=resumed,
        seconds=finished - clock,
        outputs=outputs,
    )
