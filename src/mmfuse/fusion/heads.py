"""Task heads on a task's pooled vector: cosine or linear classifiers, and regression.

Every head maps ``pooled`` float32 [batch, d_model] to ``logits`` (what the training losses
take) and ``scores(logits)`` to what users read: class probabilities (softmax for one class
per item, sigmoid per class for multi-label) or the regression value.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfuse.fusion.layers import zero_

# Upper bound of a cosine classifier's learned scale (CLIP clamps its logit scale at 100).
MAX_SCALE = 100.0

KINDS = ("multiclass", "multilabel", "regression")


class CosineClassifier(nn.Module):
    """Logits ``scale * cos(pooled, class_vector)`` (+ a per-class bias for multi-label).

    The class vectors live in the model's embedding space, so they can be set from text
    descriptions (zero-shot) or example means (few-shot), or learnt (many-shot).
    """

    def __init__(self, d_model: int, n_classes: int, init_scale: float, multilabel: bool):
        super().__init__()
        self.multilabel = multilabel
        self.class_vectors = nn.Parameter(torch.randn(n_classes, d_model) / math.sqrt(d_model))
        self.log_scale = nn.Parameter(torch.tensor(math.log(init_scale)))
        self.bias = nn.Parameter(torch.zeros(n_classes)) if multilabel else None

    def forward(self, pooled: Tensor) -> Tensor:
        """float32 [batch, d_model] -> logits [batch, n_classes]; 0 for a zero pooled vector."""
        scale = self.log_scale.exp().clamp(max=MAX_SCALE)
        cosines = F.normalize(pooled, dim=-1) @ F.normalize(self.class_vectors, dim=-1).T
        logits = scale * cosines
        return logits if self.bias is None else logits + self.bias

    def scores(self, logits: Tensor) -> Tensor:
        """Probabilities [batch, n_classes]: sigmoid per class or softmax over classes."""
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)

    def set_class_vectors(self, vectors: Tensor) -> None:
        """Replaces the class vectors (float [n_classes, d_model]; the count may change)."""
        device = self.class_vectors.device
        self.class_vectors = nn.Parameter(vectors.detach().to(device, torch.float32).clone())
        if self.bias is not None and self.bias.shape[0] != vectors.shape[0]:
            self.bias = nn.Parameter(torch.zeros(vectors.shape[0], device=device))


class LinearClassifier(nn.Module):
    """Logits from a linear map of the pooled vector; softmax or sigmoid scores."""

    def __init__(self, d_model: int, n_classes: int, multilabel: bool):
        super().__init__()
        self.multilabel = multilabel
        self.linear = nn.Linear(d_model, n_classes)

    def forward(self, pooled: Tensor) -> Tensor:
        """float32 [batch, d_model] -> logits [batch, n_classes]."""
        return self.linear(pooled)

    def scores(self, logits: Tensor) -> Tensor:
        """Probabilities [batch, n_classes]: sigmoid per class or softmax over classes."""
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)


class RegressionHead(nn.Module):
    """One score per item, squashed into ``value_range`` when one is given.

    The linear map starts at zero, so an untrained head predicts the middle of its range.
    """

    def __init__(self, d_model: int, value_range: tuple[float, float] | None):
        super().__init__()
        self.value_range = value_range
        self.linear = zero_(nn.Linear(d_model, 1))

    def forward(self, pooled: Tensor) -> Tensor:
        """float32 [batch, d_model] -> logits [batch] (before squashing)."""
        return self.linear(pooled)[:, 0]

    def scores(self, logits: Tensor) -> Tensor:
        """Values [batch]: ``low + (high - low) * sigmoid(logits)``, or the logits unbounded."""
        if self.value_range is None:
            return logits
        low, high = self.value_range
        return low + (high - low) * torch.sigmoid(logits)


def build_head(
    kind: str,
    d_model: int,
    n_classes: int,
    cosine: bool,
    init_scale: float,
    value_range: tuple[float, float] | None,
) -> nn.Module:
    """The head for a task kind ("multiclass", "multilabel" or "regression")."""
    if kind == "regression":
        return RegressionHead(d_model, value_range)
    if kind not in KINDS:
        raise ValueError(f"unknown task kind '{kind}'; expected one of {', '.join(KINDS)}")
    multilabel = kind == "multilabel"
    if cosine:
        return CosineClassifier(d_model, n_classes, init_scale, multilabel)
    return LinearClassifier(d_model, n_classes, multilabel)
