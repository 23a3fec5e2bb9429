"""Score a model against labelled items: accuracy, macro-F1, macro-recall, confusion matrices.

``mmfuse evaluate --model M --labels LABELS.csv [--data DIR_OR_MANIFEST] [--out DIR]`` runs
the model (a folder written by ``mmfuse train``, or a shipped name such as ``mmfuse-base``)
on the items that have a row in LABELS.csv and scores every task column the model knows.
It prints one line per task and writes to ``--out`` (default ``./evaluation``):
``metrics.json``, ``<task>_report.csv`` (precision, recall, F1, support per class),
``<task>_confusion.csv`` and ``predictions.csv`` (per item: true class, predicted class and
its probability, per task). Without ``--data`` the labels file is read as the manifest of the
items (a ``text`` column).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from mmfuse.commands.train import add_data_arguments, decode_all, label_arrays, labelled_items
from mmfuse.errors import UsageError
from mmfuse.fusion.evaluate import score, summary, write_report
from mmfuse.fusion.inference import predict
from mmfuse.io.writers import atomic_write, write_csv
from mmfuse.tasks.social_media.fit import Checkpoint

log = logging.getLogger(__name__)

DEFAULT_MODEL = "mmfuse-base"
DEFAULT_OUT = Path("evaluation")
PREDICTIONS_FILE = "predictions.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"model folder or name (default: {DEFAULT_MODEL})"
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="report folder (default: ./evaluation)"
    )


def run(args: argparse.Namespace) -> int:
    checkpoint = Checkpoint.load(args.model, device=args.device)
    model, featurizer = checkpoint.model, checkpoint.featurizer
    items, labels = labelled_items(args)
    tasks = [t for t in labels.tasks if t in model.tasks]
    if not tasks:
        raise UsageError(
            f"no column of {args.labels} is a task of the model "
            f"(columns: {', '.join(labels.tasks)}; tasks: {', '.join(model.tasks)})"
        )
    labels.tasks = {t: labels.tasks[t] for t in tasks}
    items, decoded = decode_all(featurizer, items)
    ids = [item.id for item in items]
    classes = {t: model.task(t).classes for t in tasks}
    y, _ = label_arrays(labels, ids, classes)
    scores = predict(model, featurizer.featurize(decoded))
    results = {t: score(t, y[t], scores[t], classes[t]) for t in tasks}
    paths = write_report(results, args.out)
    columns = ["id"]
    rows = [{"id": item_id} for item_id in ids]
    for t in tasks:
        columns += [f"{t}_true", f"{t}_predicted", f"{t}_probability"]
        predicted = scores[t].argmax(axis=1)
        for row, truth, guess, probs in zip(rows, y[t], predicted, scores[t], strict=True):
            row[f"{t}_true"] = classes[t][truth] if truth >= 0 else ""
            row[f"{t}_predicted"] = classes[t][guess]
            row[f"{t}_probability"] = round(float(np.max(probs)), 4)
    with atomic_write(args.out / PREDICTIONS_FILE) as stream:
        write_csv(rows, columns, stream)
    print(summary(results))
    print(f"report: {', '.join(str(p) for p in [*paths, args.out / PREDICTIONS_FILE])}")
    return 0
