"""Evaluation reports: metrics per task as JSON, per-class reports and confusion matrices as CSV.

``score(task, y_true, probabilities)`` computes what ``mmfuse evaluate`` reports for one
classification task: accuracy, macro-F1, macro-recall, F1 of each class, the confusion matrix
and scikit-learn's per-class precision/recall/F1/support. ``write_report(results, folder)``
writes them as files a spreadsheet opens:

- ``metrics.json``: task -> metrics (confusion matrix as nested lists, rows true classes);
- ``<task>_report.csv``: class, precision, recall, f1, support, plus macro and weighted
  averages;
- ``<task>_confusion.csv``: true class by predicted class counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report

from mmfuse.fusion.metrics import MISSING, classification_metrics
from mmfuse.io.writers import atomic_write, write_csv, write_json

METRICS_FILE = "metrics.json"
REPORT_COLUMNS = ("class", "precision", "recall", "f1", "support")
# Rows of scikit-learn's report besides the classes, in the order written.
AVERAGES = ("macro avg", "weighted avg")


@dataclass
class TaskResult:
    """One task's evaluation.

    Attributes:
        task: the task name.
        classes: class names in index order.
        metrics: ``mmfuse.fusion.metrics.classification_metrics`` (confusion as an array).
        report: rows of REPORT_COLUMNS, one per class then the averages.
    """

    task: str
    classes: list[str]
    metrics: dict
    report: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """Plain JSON-ready metrics with the class names and the confusion matrix as lists."""
        out = {k: v for k, v in self.metrics.items() if k != "confusion"}
        out["classes"] = list(self.classes)
        if "confusion" in self.metrics:
            out["confusion"] = np.asarray(self.metrics["confusion"]).tolist()
        return out


def score(
    task: str, y_true: np.ndarray, probabilities: np.ndarray, classes: list[str]
) -> TaskResult:
    """Metrics of one classification task on the labelled items.

    Args:
        task: the task name.
        y_true: int [n] class indices, ``MISSING`` (-1) for items without a label (skipped).
        probabilities: float [n, n_classes] scores; the argmax is the prediction.
        classes: class names in index order.
    """
    metrics = classification_metrics(y_true, probabilities, classes)
    valid = np.asarray(y_true) != MISSING
    report: list[dict] = []
    if valid.any():
        table = classification_report(
            np.asarray(y_true)[valid],
            np.asarray(probabilities)[valid].argmax(axis=1),
            labels=list(range(len(classes))),
            target_names=[str(c) for c in classes],
            output_dict=True,
            zero_division=0,
        )
        for name in [*map(str, classes), *AVERAGES]:
            row = table[name]
            report.append(
                {
                    "class": name,
                    "precision": round(row["precision"], 4),
                    "recall": round(row["recall"], 4),
                    "f1": round(row["f1-score"], 4),
                    "support": int(row["support"]),
                }
            )
    return TaskResult(task, list(classes), metrics, report)


def write_report(results: Mapping[str, TaskResult], folder: str | Path) -> list[Path]:
    """Writes ``metrics.json`` and each task's report and confusion CSVs; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / METRICS_FILE]
    write_json({name: result.to_json() for name, result in results.items()}, paths[0])
    for name, result in results.items():
        report_path = folder / f"{name}_report.csv"
        with atomic_write(report_path) as stream:
            write_csv(result.report, REPORT_COLUMNS, stream)
        paths.append(report_path)
        if "confusion" not in result.metrics:
            continue
        confusion_path = folder / f"{name}_confusion.csv"
        matrix = np.asarray(result.metrics["confusion"])
        columns = ["true \\ predicted", *map(str, result.classes)]
        rows = [
            {columns[0]: c, **{str(p): int(n) for p, n in zip(result.classes, counts, strict=True)}}
            for c, counts in zip(result.classes, matrix, strict=True)
        ]
        with atomic_write(confusion_path) as stream:
            write_csv(rows, columns, stream)
        paths.append(confusion_path)
    return paths


def summary(results: Mapping[str, TaskResult]) -> str:
    """One line per task: n, accuracy, macro-F1, macro-recall."""
    lines = []
    for name, result in results.items():
        m = result.metrics
        if not m.get("n"):
            lines.append(f"{name}: no labelled items")
            continue
        lines.append(
            f"{name}: n={m['n']} accuracy={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f} "
            f"macro_recall={m['macro_recall']:.4f}"
        )
    return "\n".join(lines)
