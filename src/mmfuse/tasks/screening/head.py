"""A screening head: a small fusion model over a candidate's tokens, trained on past decisions.

``mmfuse train --labels decisions.csv --data SCREENING_RUN --out HEAD`` fits it (``training``);
``mmfuse run screening ... --model HEAD`` adds two columns and ranks by the first:

- ``learned_score`` (0-100): for decisions, 100 x the probability of the favourable decision
  (``hire``, ``yes``, ``advance``, ... or the class named by ``--positive``); for 1-5 ratings
  (any numeric labels), the predicted rating placed between the lowest and highest rating.
- ``learned_prediction``: the likeliest decision, or the predicted rating.

The model reads the four token modalities of ``tokens`` (score parts, CV sections,
requirements, interview segments) through one self-attention layer and one task query. For a
two-way decision its logits start from the zero-shot fit score (``TaskConfig.prior`` on the
parts token), so an untrained head ranks like ``fit_score`` and training learns a correction:
with a few dozen past decisions the head cannot stray far from the documented score by
accident. The parts stay in the output beside the learned score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import UsageError
from mmfuse.fusion.labels import is_number
from mmfuse.fusion.model import (
    FusionConfig,
    FusionModel,
    TaskConfig,
    load_model,
)
from mmfuse.tasks.heads import head_config
from mmfuse.tasks.screening.tokens import FIT_PRIOR, embedding_dim, modality_dims, stack

HEAD_FORMAT = "mmfuse-screening-head"
DECISION, RATING = "decision", "rating"
# Decisions read as favourable (lowercased); another name needs ``--positive``.
FAVOURABLE = (
    "hire", "hired", "yes", "y", "true", "1", "accept", "accepted", "advance", "advanced",
    "offer", "offered", "interview", "invite", "invited", "pass", "passed", "shortlist",
    "shortlisted", "select", "selected", "proceed", "positive", "good", "strong",
)  # fmt: skip
HEAD_WIDTH = {"n_layers": 1, "d_task_ff": 64, "dropout": 0.1}
DECIMALS = 2


@dataclass(frozen=True)
class Target:
    """What a head predicts.

    Attributes:
        kind: ``DECISION`` (classes) or ``RATING`` (a number).
        classes: decision classes, the favourable one first (empty for ratings).
        value_range: lowest and highest rating (ratings only).
    """

    kind: str
    classes: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None


def target_of(values: Sequence[str], positive: str | None = None) -> Target:
    """The target the labels describe: ratings when every label is a number, else decisions.

    Raises:
        UsageError: fewer than two distinct labels, or no favourable decision to be found.
    """
    names = sorted(set(values))
    if len(names) < 2:
        raise UsageError(f"the labels hold {len(names)} distinct value(s); a head needs two")
    if positive is None and all(is_number(n) for n in names):
        numbers = [float(n) for n in names]
        return Target(RATING, value_range=(min(numbers), max(numbers)))
    if positive is not None and positive not in names:
        raise UsageError(f"--positive {positive!r} is not a label ({', '.join(names)})")
    favourable = positive or next((n for n in names if n.lower() in FAVOURABLE), None)
    if favourable is None:
        raise UsageError(
            f"which decision is favourable among {', '.join(names)}? Say it with --positive"
        )
    return Target(DECISION, (favourable, *(n for n in names if n != favourable)))


def _heads_for(width: int) -> int:
    return next(h for h in (6, 4, 2, 1) if width % h == 0)


def build_head(target: Target, dim: int, meta: Mapping) -> FusionModel:
    """An untrained head for a sentence encoder of ``dim`` (see the module docstring)."""
    if target.kind == DECISION:
        prior = {"parts": list(FIT_PRIOR)} if len(target.classes) == 2 else {}
        task = TaskConfig(DECISION, classes=list(target.classes), cosine=False, prior=prior)
    else:
        task = TaskConfig(RATING, kind="regression", value_range=target.value_range)
    config = FusionConfig(
        modalities=modality_dims(dim),
        tasks=[task],
        d_model=dim,
        n_heads=_heads_for(dim),
        d_ff=2 * dim,
        meta={"format": HEAD_FORMAT, "embedding_dim": dim, **meta},
        **HEAD_WIDTH,
    )
    return FusionModel(config)


class Head:
    """A trained screening head, loaded from a model folder.

    Raises (at construction):
        UsageError: the folder holds no model, or a model that is not a screening head.
    """

    def __init__(self, folder: Path, device: str = "cpu"):
        self.meta = head_config(folder, HEAD_FORMAT, "screening").meta
        self.model = load_model(folder, device)
        self.task = self.model.config.tasks[0]

    @property
    def dims(self) -> dict[str, int]:
        return modality_dims(int(self.meta["embedding_dim"]))

    def predict(self, rows: Sequence[Mapping]) -> list[dict]:
        """``learned_score`` and ``learned_prediction`` for rows with tokens."""
        from mmfuse.fusion.inference import predict

        scores = predict(self.model, stack(rows, self.dims))[self.task.name]
        return [self._columns(s) for s in scores]

    def _columns(self, score: np.ndarray) -> dict:
        if self.task.kind == "regression":
            low, high = self.task.value_range
            value = float(score)
            learned = 100.0 * (value - low) / max(high - low, 1e-12)
            return {
                "learned_score": round(learned, DECIMALS),
                "learned_prediction": round(value, DECIMALS),
            }
        return {
            "learned_score": round(100.0 * float(score[0]), DECIMALS),
            "learned_prediction": self.task.classes[int(np.argmax(score))],
        }


def head_dim(rows: Sequence[Mapping]) -> int:
    """The sentence encoder's size the rows were screened with (``tokens.embedding_dim``)."""
    try:
        return embedding_dim(rows)
    except ValueError as error:
        raise UsageError(str(error)) from None
