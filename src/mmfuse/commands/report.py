"""Rebuild ``report.html`` from a finished run's outputs (``manifest.json`` and
``results.parquet``, or ``results.csv`` when the Parquet file is gone).

``mmfuse report OUT`` writes ``OUT/report.html`` again: after ``--no-report``, after an
upgrade of mmfuse, or on another machine. Thumbnails come from the run's input when it is
still where the manifest says; without it the report has no pictures.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path

from mmfuse.errors import UsageError
from mmfuse.io.discover import discover
from mmfuse.runner import MANIFEST, RESULTS_CSV, RESULTS_PARQUET, write_report
from mmfuse.tasks.base import Task
from mmfuse.tasks.registry import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the output folder of a finished `mmfuse run`")


def _number(text: str):
    """A CSV cell back to the number it was written from (text stays text)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.removeprefix("'")  # the formula guard of the CSV writer


def read_results(out: Path) -> tuple[list[dict], list[str]]:
    """The run's rows and columns: from Parquet (typed), else from the CSV."""
    if (out / RESULTS_PARQUET).is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(out / RESULTS_PARQUET)
        return table.to_pylist(), table.column_names
    if (out / RESULTS_CSV).is_file():
        with open(out / RESULTS_CSV, encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            rows = [{k: _number(v) if v else v for k, v in row.items()} for row in reader]
            return rows, list(reader.fieldnames or [])
    raise UsageError(f"{out} holds no {RESULTS_PARQUET} or {RESULTS_CSV}")


def _files(record: dict) -> dict:
    """Item id -> media files, found again from the run's input (empty if it moved)."""
    source = (record.get("run") or {}).get("inputs", "")
    if not source or not Path(source).exists():
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
    path = write_report(task, rows, columns, record, out, _files(record))
    print(path)
    return 0
