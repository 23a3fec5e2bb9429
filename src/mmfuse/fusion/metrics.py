"""Scores of predictions against labels (scikit-learn), skipping unlabelled items.

Missing markers as in training: class index ``MISSING`` (-1), NaN (or -1) for multi-label
entries, NaN for regression targets.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, mean_absolute_error, recall_score

from mmfuse.fusion.model import TaskConfig

MISSING = -1  # the class index of an item without a label for a classification task


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro-F1, macro-recall, F1 per class (``f1_<class>``) and the confusion matrix.

    Args:
        y_true: int [n_items] class indices, ``MISSING`` where unlabelled (skipped).
        scores: float [n_items, n_classes] probabilities or logits (the argmax is predicted).
        classes: class names in index order.

    Returns:
        {"n", "accuracy", "macro_f1", "macro_recall", "f1_<class>"..., "confusion"}; the
        confusion matrix is int [n_classes, n_classes], rows true, columns predicted.
    """
    valid = np.asarray(y_true) != MISSING
    y, predicted = np.asarray(y_true)[valid], np.asarray(scores)[valid].argmax(axis=1)
    if not len(y):
        return {"n": 0}
    labels = list(range(len(classes)))
    per_class = f1_score(y, predicted, labels=labels, average=None, zero_division=0)
    return {
        "n": len(y),
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)),
        "macro_recall": float(
            recall_score(y, predicted, labels=labels, average="macro", zero_division=0)
        ),
        **{f"f1_{c}": float(v) for c, v in zip(classes, per_class, strict=True)},
        "confusion": confusion_matrix(y, predicted, labels=labels),
    }


def multilabel_metrics(
    y_true: np.ndarray, scores: np.ndarray, classes: list[str], threshold: float = 0.5
) -> dict:
    """Micro- and macro-F1 and F1 per class of ``scores >= threshold`` on fully labelled rows."""
    y_true = np.asarray(y_true, dtype=np.float32)
    valid = ~np.isnan(y_true).any(axis=1) & (y_true >= 0).all(axis=1)
    y, predicted = y_true[valid].astype(int), (np.asarray(scores)[valid] >= threshold).astype(int)
    if not len(y):
        return {"n": 0}
    per_class = f1_score(y, predicted, average=None, zero_division=0)
    return {
        "n": len(y),
        "micro_f1": float(f1_score(y, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(y, predicted, average="macro", zero_division=0)),
        **{f"f1_{c}": float(v) for c, v in zip(classes, per_class, strict=True)},
    }


def regression_metrics(y_true: np.ndarray, values: np.ndarray) -> dict:
    """Pearson correlation, mean absolute and root-mean-square error on labelled items."""
    y_true = np.asarray(y_true, dtype=np.float64)
    valid = ~np.isnan(y_true)
    y, predicted = y_true[valid], np.asarray(values, dtype=np.float64)[valid]
    if not len(y):
        return {"n": 0}
    spread = y.std() * predicted.std()
    covariance = np.mean((y - y.mean()) * (predicted - predicted.mean()))
    pearson = float(covariance / spread) if spread else 0.0
    return {
        "n": len(y),
        "pearson": pearson,
        "mae": float(mean_absolute_error(y, predicted)),
        "rmse": float(np.sqrt(np.mean((y - predicted) ** 2))),
    }


def task_metrics(task: TaskConfig, y_true: np.ndarray, scores: np.ndarray) -> dict:
    """The metrics that fit the task's kind (``scores`` as in ``FusionOutput.scores``)."""
    if task.kind == "multiclass":
        return classification_metrics(y_true, scores, task.classes)
    if task.kind == "multilabel":
        return multilabel_metrics(y_true, scores, task.classes)
    return regression_metrics(y_true, scores)
