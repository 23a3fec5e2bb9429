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
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmfuse.errors import InputError, UsageError
from mmfuse.fusion.metrics import MISSING
from mmfuse.io.discover import DEFAULT_TEXT_COLUMNS, discover, read_manifest
from mmfuse.io.documents import read_text_file
from mmfuse.types import Item, media_kind

log = logging.getLogger(__name__)

# A class with fewer labelled items than this keeps them all for training (none held out).
MIN_CLASS_TO_HOLD = 3


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


def holdout_mask(labels: Mapping[str, np.ndarray], fraction: float, seed: int) -> np.ndarray:
    """bool [n]: ``fraction`` of each task's labelled items, held out for early stopping.

    The one held-out split of every training (fusion models on items, heads on runs).
    Classification targets (integers, ``MISSING`` where unlabelled) are stratified by class; a
    class of fewer than ``MIN_CLASS_TO_HOLD`` items stays in training. Regression targets
    (floats, NaN where unlabelled) are drawn at random. An item goes with the first task that
    labels it.
    """
    n = len(next(iter(labels.values())))
    held = np.zeros(n, dtype=bool)
    rng = np.random.default_rng(seed)
    assigned = np.zeros(n, dtype=bool)
    for name in labels:
        y = np.asarray(labels[name])
        if np.issubdtype(y.dtype, np.floating):
            groups = [np.flatnonzero(np.isfinite(y) & ~assigned)]
        else:
            groups = [np.flatnonzero((y == c) & ~assigned) for c in np.unique(y[y != MISSING])]
        for members in groups:
            n_held = round(fraction * len(members)) if len(members) >= MIN_CLASS_TO_HOLD else 0
            held[rng.choice(members, n_held, replace=False)] = True
            assigned[members] = True
    return held


def labelled_items(
    labels_path: Path | None,
    source: Path | None,
    id_column: str = "id",
    tasks: Sequence[str] | None = None,
) -> tuple[list[Item], Labels]:
    """The items of ``source`` (a folder, a file or a manifest; default: the labels file as a
    manifest) that have a row in the labels file, in the labels file's order.

    Raises:
        UsageError: no labels file, an unusable one, or no item with a labelled id.
    """
    if labels_path is None:
        raise UsageError("--labels is required")
    try:
        labels = read_labels(labels_path, id_column, list(tasks) if tasks else None)
    except LabelsError as error:
        raise UsageError(str(error)) from None
    source = source or labels_path
    if source.is_file() and source.suffix.lower() in (".csv", ".jsonl"):
        items = read_manifest(source, id_column)
    else:
        items = discover(source)
    by_id = {item.id: item for item in items}
    found = [by_id[i] for i in labels.ids if i in by_id]
    if not found:
        raise UsageError(f"no item of {source} has an id in {labels_path}")
    if len(found) < len(labels.ids):
        log.warning("%d labelled ids have no item in %s", len(labels.ids) - len(found), source)
    return found, labels


def decode_readable(featurizer: Any, items: Sequence[Item]) -> tuple[list[Item], list]:
    """The items a featurizer (``decode_readable``) can read and their decoded forms, leaving
    out (with a warning each) those whose files are bad.

    Raises:
        UsageError: no item could be read.
    """
    kept, decoded = featurizer.decode_readable(items)
    if not kept:
        raise UsageError("no item could be read")
    return [items[i] for i in kept], decoded


def label_arrays(
    labels: Labels, ids: list[str], classes: Mapping[str, list[str]] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Class indices per task for ``ids`` and the class names (from the file unless given).

    Raises:
        UsageError: a task with fewer than two classes, or a label that is not a class.
    """
    classes = dict(classes) if classes else {t: labels.classes(t) for t in labels.tasks}
    for task in labels.tasks:
        if len(classes.get(task, [])) < 2:
            found = "no labels" if not classes.get(task) else "only one class"
            raise UsageError(f"task '{task}' has {found}; a classifier needs two or more")
    try:
        arrays = {t: labels.indices(t, classes[t], ids) for t in labels.tasks}
    except LabelsError as error:
        raise UsageError(str(error)) from None
    return arrays, {t: classes[t] for t in labels.tasks}
