"""Labels CSV files for ``mmfuse train`` and ``mmfuse evaluate``: an id column, one per task.

A labels file is UTF-8 CSV with a header line::

    id,sentiment,emotion
    post1,positive,joy
    post2,negative,          <- an empty cell: no emotion label for post2

Each cell of a task column is a class name; an empty cell means the item is not labelled for
that task (multi-task data rarely has every label for every item). The same file may also be
the manifest of the items (a ``text`` or ``caption`` column): those columns, and columns of
file paths, are not tasks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError
from mmfuse.fusion.metrics import MISSING
from mmfuse.io.discover import DEFAULT_TEXT_COLUMNS
from mmfuse.io.documents import read_text_file
from mmfuse.types import media_kind


class LabelsError(ValueError):
    """A labels file that cannot be used: one line saying what is wrong and where."""


@dataclass
class Labels:
    """Labels of items for several tasks.

    Attributes:
        ids: item ids, in file order (unique).
        tasks: task -> one class name per id, "" where unlabelled.
    """

    ids: list[str]
    tasks: dict[str, list[str]]

    def classes(self, task: str) -> list[str]:
        """The task's class names found in the file, sorted (numerically when all numbers)."""
        names = sorted({v for v in self.tasks[task] if v})
        if names and all(is_number(n) for n in names):
            names.sort(key=float)
        return names

    def indices(self, task: str, classes: list[str], ids: list[str]) -> np.ndarray:
        """int64 [len(ids)] class index per id; ``MISSING`` for unlabelled or unknown ids.

        Raises:
            LabelsError: a label that is not one of ``classes``.
        """
        row = {item_id: i for i, item_id in enumerate(self.ids)}
        position = {name: i for i, name in enumerate(classes)}
        out = np.full(len(ids), MISSING, dtype=np.int64)
        for n, item_id in enumerate(ids):
            value = self.tasks[task][row[item_id]] if item_id in row else ""
            if not value:
                continue
            if value not in position:
                raise LabelsError(
                    f"task '{task}': item '{item_id}' has label '{value}', not one of the "
                    f"model's classes ({', '.join(classes)})"
                )
            out[n] = position[value]
        return out


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (labels that are ratings, not classes)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_path_column(values: list[str]) -> bool:
    cells = [v for v in values if v]
    return bool(cells) and all(media_kind(v) is not None for v in cells)


def read_labels(path: str | Path, id_column: str = "id", tasks: list[str] | None = None) -> Labels:
    """Reads a labels CSV.

    Args:
        path: the CSV file.
        id_column: the column of item ids.
        tasks: the task columns to read; default every column but the id, text and path
            columns.

    Raises:
        LabelsError: unreadable file, missing column, empty or repeated id, no task column.
    """
    path = Path(path)
    try:
        text = read_text_file(path)
    except InputError as error:
        raise LabelsError(f"cannot read the labels file ({error})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    columns = list(reader.fieldnames or [])
    if id_column not in columns:
        raise LabelsError(f"labels file {path} has no {id_column!r} column (columns: {columns})")
    values = {c: [(row.get(c) or "").strip() for row in rows] for c in columns}
    if tasks is None:
        tasks = [
            c
            for c in columns
            if c != id_column and c not in DEFAULT_TEXT_COLUMNS and not _is_path_column(values[c])
        ]
    missing = [t for t in tasks if t not in columns]
    if missing:
        raise LabelsError(f"labels file {path} has no column {missing[0]!r}")
    if not tasks:
        raise LabelsError(f"labels file {path} has no task column besides {id_column!r}")
    ids = values[id_column]
    seen: dict[str, int] = {}
    for line, item_id in enumerate(ids, start=2):
        if not item_id:
            raise LabelsError(f"{path}:{line}: empty {id_column!r}")
        if item_id in seen:
            raise LabelsError(f"{path}: id {item_id!r} repeated (lines {seen[item_id]}, {line})")
        seen[item_id] = line
    return Labels(ids, {t: values[t] for t in tasks})
