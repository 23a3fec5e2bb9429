"""Scores a fusion model's predictions against labels, for tests."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmfuse.fusion.inference import predict
from mmfuse.fusion.metrics import task_metrics


def evaluate(model, inputs, labels: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """Task -> metrics of the model's predictions against ``labels``."""
    scores = predict(model, inputs)
    return {task: task_metrics(model.task(task), y, scores[task]) for task, y in labels.items()}
