"""Batched inference of a fusion model over many items.

API:
    ``infer(model, inputs)`` returns per-task scores, pooled vectors and modality shares as
    numpy arrays (the shares are a task's attention per modality, the explanation a task
    writes as ``<task>_from_<source>`` columns); ``predict`` only the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mmfuse.fusion.model import FusionModel
from mmfuse.types import ModalityTokens

INFER_BATCH = 1024  # items per forward pass; a few MB of activations for short sequences


def to_tensors(inputs: Mapping[str, ModalityTokens], device: str | torch.device) -> dict:
    """The inputs as torch tensors on ``device`` (tokens float32, mask bool, times float32)."""
    return {
        name: ModalityTokens(
            torch.as_tensor(m.tokens, dtype=torch.float32).to(device),
            torch.as_tensor(m.mask, dtype=torch.bool).to(device),
            torch.as_tensor(m.times, dtype=torch.float32).to(device),
        )
        for name, m in inputs.items()
    }


def take(inputs: Mapping[str, ModalityTokens], index: Tensor) -> dict[str, ModalityTokens]:
    """The items at ``index`` (int64 [n]) of tensor inputs, trimmed of token columns they lack.

    Modalities none of them has are left out (but never all: one column is kept then).
    """
    batch = {}
    for name, m in inputs.items():
        mask = m.mask[index]
        columns = mask.any(dim=0)
        if columns.any():
            batch[name] = ModalityTokens(
                m.tokens[index][:, columns], mask[:, columns], m.times[index][:, columns]
            )
    if not batch:
        name, m = next(iter(inputs.items()))
        batch[name] = ModalityTokens(m.tokens[index, :1], m.mask[index, :1], m.times[index, :1])
    return batch


def count_items(inputs: Mapping[str, ModalityTokens]) -> int:
    """The number of items (rows) the inputs hold; ValueError when modalities disagree."""
    sizes = {m.mask.shape[0] for m in inputs.values()}
    if len(sizes) != 1:
        raise ValueError(f"modalities disagree on the number of items: {sorted(sizes)}")
    return sizes.pop()


def forward_all(model: FusionModel, data: dict, batch_size: int) -> dict[str, dict[str, Tensor]]:
    """Runs ``model`` over tensor inputs in eval mode; per output field, per task, all items."""
    was_training = model.training
    model.eval()
    parts: dict[str, dict[str, list[Tensor]]] = {}
    n = count_items(data)
    device = next(iter(data.values())).mask.device
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            index = torch.arange(start, min(start + batch_size, n), device=device)
            output = model(take(data, index))
            for field_name in ("logits", "scores", "pooled", "shares"):
                for task, value in getattr(output, field_name).items():
                    parts.setdefault(field_name, {}).setdefault(task, []).append(value)
    model.train(was_training)
    return {f: {t: torch.cat(v) for t, v in tasks.items()} for f, tasks in parts.items()}


@dataclass
class Predictions:
    """Per task, numpy arrays over all items (see ``FusionOutput`` for the shapes)."""

    scores: dict[str, np.ndarray]
    pooled: dict[str, np.ndarray]
    shares: dict[str, np.ndarray]


def infer(
    model: FusionModel, inputs: Mapping[str, ModalityTokens], batch_size: int = INFER_BATCH
) -> Predictions:
    """Scores, pooled vectors and modality shares of every task for all items, batched."""
    device = model.type_embedding.device
    out = forward_all(model, to_tensors(inputs, device), batch_size)
    arrays = {f: {t: v.float().cpu().numpy() for t, v in tasks.items()} for f, tasks in out.items()}
    return Predictions(*(arrays.get(f, {}) for f in ("scores", "pooled", "shares")))


def predict(
    model: FusionModel, inputs: Mapping[str, ModalityTokens], batch_size: int = INFER_BATCH
) -> dict[str, np.ndarray]:
    """Task -> probabilities [n_items, n_classes] (regression: values [n_items])."""
    return infer(model, inputs, batch_size).scores
