"""Few-shot adaptation of a trained checkpoint from a folder of labelled examples.

``DIR/<class>/<files>``: when every class folder names a class of one of the model's tasks
(e.g. ``positive/`` and ``negative/`` for ``sentiment``), that task's class vectors become a
blend of their trained value and the mean pooled vector of the class's examples; otherwise
the folder defines a new task, named after the folder, whose classes start from the embedding
of their names. No gradient step: it takes seconds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmfuse.fusion.fewshot import class_vectors_from_examples, class_vectors_from_text
from mmfuse.fusion.labels import Labels
from mmfuse.fusion.model import TaskConfig
from mmfuse.io.discover import discover
from mmfuse.types import Item

log = logging.getLogger(__name__)

# Weight of the examples' mean in an adapted class vector; the rest is the current vector.
EXAMPLES_BLEND = 0.5


def example_classes(folder: Path) -> list[str]:
    """The class sub-folders of an examples folder, sorted.

    Raises:
        ValueError: there is none.
    """
    classes = sorted(p.name for p in Path(folder).iterdir() if p.is_dir() and p.name[0] != ".")
    if not classes:
        raise ValueError(f"{folder} has no class sub-folders (expected DIR/<class>/<files>)")
    return classes


def example_items(folder: Path, task: str) -> tuple[list[Item], Labels]:
    """Items of ``folder/<class>/...`` (ids ``<class>/<item>``) and their labels for one task.

    Raises:
        ValueError: no class sub-folder.
    """
    items, ids, values = [], [], []
    for name in example_classes(folder):
        for item in discover(Path(folder) / name):
            item_id = f"{name}/{item.id}"
            items.append(Item(item_id, item.paths, item.text, item.meta))
            ids.append(item_id)
            values.append(name)
    return items, Labels(ids, {task: values})


def examples_task(tasks: Sequence[TaskConfig], folder: Path) -> tuple[str, bool]:
    """(task name, whether it is new) that an examples folder adapts or adds.

    An existing cosine task whose classes cover the folder's is adapted; otherwise the folder
    makes a new task named after it.
    """
    classes = example_classes(folder)
    for task in tasks:
        if task.kind == "multiclass" and task.cosine and set(classes) <= set(task.classes):
            return task.name, False
    name = re.sub(r"[^A-Za-z0-9_]+", "_", Path(folder).resolve().name).strip("_").lower()
    if any(task.name == name for task in tasks):
        raise ValueError(
            f"examples folder '{folder}' is named like the model's task '{name}' but does not "
            "hold that task's classes: rename the folder"
        )
    return name or "label", True


def adapt_to_examples(checkpoint, folder: Path, blend: float = EXAMPLES_BLEND) -> str:
    """Sets one task's class vectors from ``folder``'s examples; returns the task's name.

    Raises:
        ValueError: no class sub-folder, or no readable example.
    """
    model, featurizer = checkpoint.model, checkpoint.featurizer
    classes = example_classes(folder)
    task, new = examples_task(model.config.tasks, Path(folder))
    items, labels = example_items(Path(folder), task)
    kept, decoded = featurizer.decode_readable(items)
    values = [labels.tasks[task][i] for i in kept]
    if not decoded:
        raise ValueError(f"no readable example in {folder}")
    if new:
        names = {c: c.replace("_", " ") for c in classes}
        model.add_task(TaskConfig(task, classes=classes, descriptions=names))
        prototypes = class_vectors_from_text(names, featurizer.embed_texts)
    else:
        prototypes = model.heads[task].class_vectors.detach().cpu().numpy()
    task_classes = model.task(task).classes
    y = np.array([task_classes.index(v) for v in values])
    vectors = class_vectors_from_examples(
        model, task, featurizer.featurize(decoded), y, len(y), prototypes, blend
    )
    model.set_class_vectors(task, vectors)
    log.info("few-shot %s task '%s' from %d examples", "new" if new else "adapted", task, len(y))
    return task
