"""What the per-file commands (``label``, ``transcribe``) share: files in, a run, files out.

They run a task through the batch engine like ``mmfuse run``, but their output is the user's
own place (a CSV, a folder of transcripts, stdout), so the run's files (results.csv,
manifest.json, the journal of an unfinished run) live in a run folder of their own:
``--run-dir DIR``, or by default ``CACHE/runs/TASK-KEY`` under the cache root, where KEY
hashes the task's settings and options, the files as typed and the output. The same command
line finds the same folder again, so a killed run resumes and a repeated one is served from
the cache.

Publishing never clobbers: an existing output file is replaced only with ``--overwrite`` or
when it is, byte for byte, what this same run wrote there before (its hashes are kept in the
run folder), an input file is never written over, and every file is written atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mmfuse import config
from mmfuse.cache import make_key
from mmfuse.commands.arguments import add_run_arguments
from mmfuse.errors import UsageError
from mmfuse.io.writers import atomic_write, write_json
from mmfuse.runner import keyed_settings
from mmfuse.tasks.base import Task
from mmfuse.types import Item

# The run folder's record of the files published from it: absolute path -> SHA-256.
PUBLISHED = "published.json"
# Characters of the key in a default run folder's name.
# The run folders of the file commands, under the cache root (``mmfuse cache`` clears them).
RUNS = "runs"
KEY_CHARS = 16


def add_file_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The run flags of ``mmfuse run`` (engine, cache, ...), ``--config`` and ``--run-dir``."""
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="folder for the run's own files: results.csv, manifest.json, the journal "
        "(default: CACHE/runs/TASK-KEY, the same for the same command line)",
    )
    add_run_arguments(parser, output=False)


def items_of(files: Sequence[Path]) -> list[Item]:
    """One item per file, its id the path as typed (repeats dropped), its path absolute."""
    typed = dict.fromkeys(str(path) for path in files)
    return [Item(id=name, paths=(Path(os.path.abspath(name)),)) for name in typed]


def run_folder(run_dir: Path | None, task: Task, items: Sequence[Item], output) -> Path:
    """``run_dir``, or the default run folder of this task, these files and this output."""
    if run_dir is not None:
        return run_dir
    target = "-" if output is None else os.path.abspath(output)
    settings, _ = keyed_settings(task, task.settings())  # the run's identity: every option
    key = make_key(task.name, settings, [item.id for item in items], target)
    return config.cache_dir() / RUNS / f"{task.name}-{key[:KEY_CHARS]}"


def _digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None


def _published(run_dir: Path) -> dict[str, str]:
    try:
        return json.loads((run_dir / PUBLISHED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_targets(
    targets: Sequence[Path], items: Sequence[Item], run_dir: Path, overwrite: bool
) -> None:
    """Refuses, before any work, to write where it must not.

    Raises:
        UsageError: a target is an input file (even with ``--overwrite``) or a folder, or it
            exists, was not written by this run and ``overwrite`` is off.
    """
    inputs = {os.path.realpath(p) for item in items for p in item.paths}
    ours = _published(run_dir)
    for target in targets:
        if os.path.realpath(target) in inputs:
            raise UsageError(f"{target} is one of the inputs; it is never written over")
        if os.path.isdir(target):
            raise UsageError(f"{target} is a folder")
        if not os.path.lexists(target) or overwrite:
            continue
        if ours.get(os.path.abspath(target)) != _digest(Path(target)):
            raise UsageError(f"{target} already exists; pass --overwrite to replace it")


def publish(contents: Mapping[Path, bytes], run_dir: Path) -> None:
    """Writes each file atomically, after recording its hash as this run's."""
    record = _published(run_dir)
    for path, data in contents.items():
        record[os.path.abspath(path)] = hashlib.sha256(data).hexdigest()
    write_json(record, run_dir / PUBLISHED)
    for path, data in contents.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as stream:
            stream.write(data)
