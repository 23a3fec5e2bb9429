"""Training a screening head (``head``) on past decisions about screened candidates.

``mmfuse train --labels decisions.csv --data RUN --out HEAD``: RUN is the output folder of
``mmfuse run screening`` over the past candidates (its ``results.parquet`` holds each
candidate's tokens, made from redacted text); decisions.csv has an id column and one column of
decisions (``hire`` / ``reject``, ...) or ratings (1-5). A share of the labelled candidates
(``holdout``, stratified) is held out for early stopping, and the head is compared there with
the zero-shot ``fit_score`` of the same candidates: ROC AUC of the favourable decision for
two-way decisions, Spearman's rank correlation for ratings, accuracy for more classes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import UsageError
from mmfuse.fusion.train import TrainOptions, train
from mmfuse.tasks.screening.head import DECISION, Target, build_head, head_dim, target_of
from mmfuse.tasks.screening.tokens import read_tokens, stack

log = logging.getLogger(__name__)

MIN_LABELLED = 6  # fewer past decisions teach a head nothing worth its risk


@dataclass(frozen=True)
class HeadOptions:
    """How a head is trained (small data: many short epochs, small batches)."""

    holdout: float = 0.2
    epochs: int = 300
    batch_size: int = 16
    learning_rate: float = 3e-3
    patience: int = 30
    seed: int = 0


def labelled_records(
    parquet: Path, labels: Mapping[str, str]
) -> tuple[list[dict], list[str], list[str]]:
    """The screened candidates with a label: their token records, labels and missing ids."""
    records = {r["id"]: r for r in read_tokens(parquet) if not r.get("error")}
    kept = [i for i in labels if labels[i] and i in records]
    missing = [i for i in labels if labels[i] and i not in records]
    return [records[i] for i in kept], [labels[i] for i in kept], missing


def _targets(target: Target, values: Sequence[str]) -> np.ndarray:
    if target.kind == DECISION:
        return np.asarray([target.classes.index(v) for v in values], np.int64)
    return np.asarray([float(v) for v in values], np.float32)


def holdout(y: np.ndarray, target: Target, fraction: float, seed: int) -> np.ndarray:
    """bool [n]: the held-out candidates, stratified by decision; none for tiny classes."""
    rng = np.random.default_rng(seed)
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)]
        if target.kind == DECISION
        else [np.arange(len(y))]
    )
    held = np.zeros(len(y), bool)
    for members in groups:
        n_held = round(fraction * len(members)) if len(members) >= 3 else 0
        held[rng.choice(members, n_held, replace=False)] = True
    return held


def fit_head(
    records: Sequence[dict],
    values: Sequence[str],
    positive: str | None,
    options: HeadOptions,
    meta: Mapping,
):
    """Trains a head on labelled token records; returns the model and a training record."""
    if len(records) < MIN_LABELLED:
        raise UsageError(
            f"{len(records)} screened candidates have a label; a head needs at least {MIN_LABELLED}"
        )
    target = target_of(values, positive)
    y = _targets(target, values)
    model = build_head(target, head_dim(records), meta)
    dims = dict(model.config.modalities)
    held = holdout(y, target, options.holdout, options.seed)
    fit_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    name = model.config.tasks[0].name

    def part(rows):
        return stack([records[i] for i in rows], dims), {name: y[rows]}

    validation = part(held_rows) if len(held_rows) else (None, None)
    history = train(
        model,
        *part(fit_rows),
        *validation,
        TrainOptions(
            epochs=options.epochs,
            batch_size=options.batch_size,
            learning_rate=options.learning_rate,
            patience=options.patience,
            balance_classes=target.kind == DECISION,
            seed=options.seed,
        ),
    )
    record = {
        "target": asdict(target),
        "labelled": len(records),
        "held_out": len(held_rows),
        "best_epoch": history.best_epoch,
        "epochs": len(history.epochs),
        "options": asdict(options),
    }
    if len(held_rows):
        held_records = [records[i] for i in held_rows]
        record["held_out_comparison"] = compare(model, target, held_records, y[held_rows])
    return model, record


def compare(model, target: Target, records: Sequence[dict], y: np.ndarray) -> dict:
    """The head against the zero-shot fit score on the same held-out candidates."""
    from mmfuse.fusion.inference import predict

    scores = predict(model, stack(records, dict(model.config.modalities)))[target.kind]
    fit = np.asarray([float(r["tokens_parts"][0][-2]) for r in records])  # p of the fit score
    if target.kind != DECISION:
        return {"metric": "spearman", "head": _spearman(scores, y), "fit_score": _spearman(fit, y)}
    if len(target.classes) == 2:
        favourable = (y == 0).astype(int)
        return {
            "metric": "roc_auc",
            "head": _auc(favourable, scores[:, 0]),
            "fit_score": _auc(favourable, fit),
        }
    return {"metric": "accuracy", "head": float(np.mean(scores.argmax(axis=1) == y))}


def _auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(set(truth.tolist())) < 2:
        return None
    return round(float(roc_auc_score(truth, score)), 4)


def _spearman(score: np.ndarray, truth: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(truth) < 3 or np.ptp(truth) == 0:
        return None
    return round(float(spearmanr(score, truth).statistic), 4)


def run_meta(manifest: Mapping) -> dict:
    """What a head records of the screening run it learnt from: text model, job digest."""
    settings = manifest.get("settings", {})
    return {k: settings.get(k) for k in ("text_model", "job_sha256", "blind")}
