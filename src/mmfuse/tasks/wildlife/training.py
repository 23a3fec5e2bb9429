"""Training a species head (``head``) on labelled files of a finished wildlife run.

``mmfuse train --labels labels.csv --data RUN --out HEAD``: RUN is the output folder of
``mmfuse run wildlife`` over the labelled photos and videos (its ``results.parquet`` holds
each file's pooled crop features); labels.csv has the run's ids and one column of species.
Labels that name no species (blank, empty, person, vehicle, ...) are left out: telling blanks
from animals is the locate step's job, not the head's. A stratified share (``holdout``) is held
out for early stopping (``mmfuse.tasks.heads``).

The head starts as the species' mean crops (nearest-prototype naming) and only its class
vectors and scale are trained (``TRAINABLE``): on the Borneo thumbnails (56 labelled crops, 20
random halves) training the whole model fell to 0.43 from the prototypes' 0.62, the head
alone reached 0.59. Training is kept only when it names the held-out files better than the
prototypes it started from; otherwise the head is the prototypes of every labelled crop
(``training.json`` says which). Its held-out accuracy is compared with the run's own naming
of the same files (zero- or few-shot, whatever the run used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from mmfuse.errors import UsageError
from mmfuse.fusion.labels import holdout_mask
from mmfuse.tasks import heads
from mmfuse.tasks.wildlife.head import CROP_FEATURES, build_head, inputs

MIN_LABELLED = 6
TRAINABLE = "heads"  # the class vectors and the scale; the crop passes through unchanged
NOT_SPECIES = {"", "blank", "empty", "none", "nothing", "person", "human", "vehicle"}


def fit_from_run(
    results: Path,
    manifest: Mapping,
    labels: Mapping[str, str],
    options: heads.HeadOptions,
    positive: str | None = None,
):
    """A species head trained on a wildlife run's files (its ``results.parquet``) and labels.

    Returns:
        ``(model, record)``: the trained head and what ``training.json`` keeps.
    """
    if positive is not None:
        raise UsageError("--positive is for screening decisions; a species head has none")
    species = {i: v for i, v in labels.items() if v.strip().casefold() not in NOT_SPECIES}
    left_out = sum(1 for v in labels.values() if v.strip() and v.strip().casefold() in NOT_SPECIES)
    records = heads.read_arrays(results, (CROP_FEATURES,), ("species",))
    records, values, unmatched = heads.labelled(
        records, species, lambda r: r.get(CROP_FEATURES) is not None
    )
    heads.require(len(records), MIN_LABELLED, "files with an animal crop")
    classes = sorted(set(values))
    if len(classes) < 2:
        raise UsageError(f"the labels name {len(classes)} species; a head needs two or more")
    y = np.asarray([classes.index(v) for v in values], np.int64)
    features = np.stack([r[CROP_FEATURES] for r in records])
    held = holdout_mask({"species": y}, options.holdout, options.seed)
    meta = {"image_model": manifest.get("settings", {}).get("crop_model")}
    model = build_head(classes, features[~held], y[~held], meta)
    before = _held_out_accuracy(model, features, y, held)
    options = replace(options, trainable=TRAINABLE)
    history = heads.fit(
        model, lambda rows: inputs(features[rows]), y, held, options, balance_classes=True
    )
    after = _held_out_accuracy(model, features, y, held)
    kept = "trained" if after is None or after > before else "prototypes"
    if kept == "prototypes":
        model = build_head(classes, features, y, meta)
    record = {
        "kept": kept,
        "held_out_accuracy": {"prototypes": before, "trained": after},
        "classes": classes,
        "labelled": len(records),
        "labels_left_out": left_out,
        "labels_without_a_row": unmatched,
        "held_out": int(held.sum()),
        "best_epoch": history.best_epoch,
        "epochs": len(history.epochs),
        "options": asdict(options),
    }
    if held.any():
        record["held_out_comparison"] = compare(model, classes, records, features, y, held)
    return model, record


def _held_out_accuracy(model, features, y, held) -> float | None:
    from mmfuse.fusion.inference import predict

    if not held.any():
        return None
    return heads.accuracy(predict(model, inputs(features[held]))["species"], y[held])


def compare(model, classes, records, features, y, held) -> dict:
    """Held-out accuracy of the head and of the run's own species column, same files."""
    from mmfuse.fusion.inference import predict

    scores = predict(model, inputs(features[held]))["species"]
    named = [str(records[i].get("species") or "").casefold() for i in np.flatnonzero(held)]
    truth = [classes[c].casefold() for c in y[held]]
    return {
        "metric": "accuracy",
        "head": heads.accuracy(scores, y[held]),
        "baseline": round(float(np.mean([n == t for n, t in zip(named, truth, strict=True)])), 4),
        "baseline_name": "the run's own species",
    }
