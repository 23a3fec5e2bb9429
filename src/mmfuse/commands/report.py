"""Rebuild ``report.html`` from a finished run's outputs (``manifest.json`` and
``results.parquet``, or ``results.csv`` when the Parquet file is gone).

``mmfuse report OUT`` writes ``OUT/report.html`` again: after ``--no-report``, after an
upgrade of mmfuse, or on another machine. Thumbnails come from the run's input when it is
still where the manifest says; without it the report has no pictures.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mmfuse.errors import UsageError
from mmfuse.io.discover import discover
from mmfuse.runner import MANIFEST, read_results, write_report
from mmfuse.tasks.base import Task
from mmfuse.tasks.registry import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the output folder of a finished `mmfuse run`")


def _files(record: dict, out: Path) -> dict:
    """Item id -> media files, found again from the run's input (empty if it moved)."""
    inputs = (record.get("run") or {}).get("inputs", "")
    source = out / inputs  # the manifest names it relative to the output folder
    if not inputs or not source.exists():
        return {}
    try:
        return {item.id: item.paths for item in discover(source)}
    except (UsageError, OSError, ValueError) as error:
        log.warning("no thumbnails: cannot read the input %s again (%s)", source, error)
        return {}


class _Generic(Task):  # a task this version does not know: the generic report
    def settings(self):
        return {}

    def decode(self, item):
        return None

    def process(self, batch):
        return []


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    try:
        record = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{out / MANIFEST}: not a finished run's manifest ({error})") from None
    rows, columns = read_results(out)
    try:
        task = get_task(record.get("task", ""))
    except UsageError:
        task = _Generic
    path = write_report(task, rows, columns, record, out, _files(record, out))
    print(path)
    return 0


# Shown at the end of ``mmfuse report --help``.
EXAMPLES = """
mmfuse report out/posts        # writes out/posts/report.html again
"""
