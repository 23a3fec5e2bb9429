"""Training a screening head (``head``) on past decisions about screened candidates.

``mmfuse train --labels decisions.csv --data RUN --out HEAD``: RUN is the output folder of
``mmfuse run screening`` over the past candidates (its ``results.parquet`` holds each
candidate's tokens, made from redacted text); decisions.csv has an id column and one column of
decisions (``hire`` / ``reject``, ...) or ratings (1-5). A share of the labelled candidates
(``holdout``, stratified) is held out for early stopping (``mmfuse.tasks.heads``), and the
head is compared there with the zero-shot ``fit_score`` of the same candidates: ROC AUC of the
favourable decision for two-way decisions, Spearman's rank correlation for ratings, accuracy
for more classes. A two-way head starts as the fit score (``head``); its training is kept only
when it ranks the held-out candidates better than the fit score does, else the head stays
untrained and says so (``kept`` in ``training.json``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from mmfuse.fusion.labels import holdout_mask
from mmfuse.tasks import heads
from mmfuse.tasks.screening.head import DECISION, Target, build_head, head_dim, target_of
from mmfuse.tasks.screening.tokens import SECTION_TIMES, TOKEN_COLUMNS, stack, token_columns

MIN_LABELLED = 6  # fewer past decisions teach a head nothing worth its risk
LEARNING_RATE = 3e-3


def fit_from_run(
    results: Path,
    manifest: Mapping,
    labels: Mapping[str, str],
    options: heads.HeadOptions,
    positive: str | None = None,
):
    """A head trained on a screening run's candidates (its ``results.parquet``) and labels.

    Returns:
        ``(model, record)``: the trained head and what ``training.json`` keeps.
    """
    records = heads.read_arrays(results, (*TOKEN_COLUMNS, SECTION_TIMES))
    records, values, unmatched = heads.labelled(
        records, labels, lambda r: r.get(token_columns("parts")) is not None
    )
    heads.require(len(records), MIN_LABELLED, "screened candidates")
    target = target_of(values, positive)
    y = _targets(target, values)
    settings = manifest.get("settings", {})
    meta = {k: settings.get(k) for k in ("text_model", "job_sha256", "blind")}
    model = build_head(target, head_dim(records), meta)
    dims = dict(model.config.modalities)
    held = holdout_mask({"target": y}, options.holdout, options.seed)
    options = replace(options, learning_rate=options.learning_rate or LEARNING_RATE)
    history = heads.fit(
        model,
        lambda rows: stack([records[i] for i in rows], dims),
        y,
        held,
        options,
        balance_classes=target.kind == DECISION,
    )
    comparison = None
    if held.any():
        held_records = [records[i] for i in np.flatnonzero(held)]
        comparison = compare(model, target, held_records, y[held])
    kept = "trained"
    if len(target.classes) == 2 and _no_better(comparison):
        model, kept = build_head(target, head_dim(records), meta), "untrained (the fit score)"
    record = {
        "kept": kept,
        "target": asdict(target),
        "labelled": len(records),
        "labels_without_a_row": unmatched,
        "held_out": int(held.sum()),
        "best_epoch": history.best_epoch,
        "epochs": len(history.epochs),
        "options": asdict(options),
    }
    if comparison:
        record["held_out_comparison"] = comparison
    return model, record


def _no_better(comparison: dict | None) -> bool:
    """Whether the trained head ranked the held-out candidates no better than the fit score."""
    if not comparison or None in (comparison.get("head"), comparison.get("baseline")):
        return False
    return comparison["head"] <= comparison["baseline"]


def _targets(target: Target, values: Sequence[str]) -> np.ndarray:
    if target.kind == DECISION:
        return np.asarray([target.classes.index(v) for v in values], np.int64)
    return np.asarray([float(v) for v in values], np.float32)


def compare(model, target: Target, records: Sequence[dict], y: np.ndarray) -> dict:
    """The head against the zero-shot fit score on the same held-out candidates."""
    from mmfuse.fusion.inference import predict

    scores = predict(model, stack(records, dict(model.config.modalities)))[target.kind]
    fit = np.asarray([float(r["tokens_parts"][0][-2]) for r in records])  # p of the fit score
    if target.kind != DECISION:
        return {
            "metric": "spearman",
            "head": _spearman(scores, y),
            "baseline": _spearman(fit, y),
            "baseline_name": "zero-shot fit_score",
        }
    if len(target.classes) == 2:
        favourable = (y == 0).astype(int)
        return {
            "metric": "roc_auc",
            "head": _auc(favourable, scores[:, 0]),
            "baseline": _auc(favourable, fit),
            "baseline_name": "zero-shot fit_score",
        }
    return {"metric": "accuracy", "head": round(float(np.mean(scores.argmax(axis=1) == y)), 4)}


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
