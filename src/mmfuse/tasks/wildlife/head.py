"""A species head: many-shot naming of crops, trained on labelled files of a wildlife run.

``mmfuse train --labels labels.csv --data WILDLIFE_RUN --out HEAD`` (``training``) reads the
pooled crop features each file's row carries (``CROP_FEATURES``, in ``results.parquet``) and
fits a cosine classifier over them: a fusion model with one token (the crop) and one task
query, its class vectors starting at the mean crop of each species (few-shot prototypes), so
training starts from nearest-prototype naming and sharpens it. ``mmfuse run wildlife --model
HEAD`` names animal crops with it instead of the zero-shot text projection; the species are
the head's, and the note under ``--species-threshold`` (and ``--rollup`` to the list's groups)
still applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmfuse.encoders.conse import normalise
from mmfuse.fusion.model import (
    FusionConfig,
    FusionModel,
    TaskConfig,
    load_model,
)
from mmfuse.tasks.heads import head_config
from mmfuse.types import ModalityTokens

HEAD_FORMAT = "mmfuse-wildlife-head"
CROP_FEATURES = "crop_features"  # the row's array: its animal crops' pooled features
TASK = "species"


def crop_features(detections: Sequence) -> np.ndarray | None:
    """float32 [F]: the file's animal crops' features averaged by animal mass (as ``naming``
    pools them), else its strongest detection's; None without detections."""
    animals = [d for d in detections if d.category == "animal"]
    if animals:
        weights = np.asarray([d.mass for d in animals], dtype=np.float64)
        pooled = np.average([d.features for d in animals], axis=0, weights=weights)
        return normalise(pooled).astype(np.float32)
    if not detections:
        return None
    return normalise(max(detections, key=lambda d: d.mass).features).astype(np.float32)


def inputs(features: np.ndarray) -> dict[str, ModalityTokens]:
    """The head's input for N crops' features [N, F]: one token each."""
    n = len(features)
    return {
        "crop": ModalityTokens(
            features[:, None, :].astype(np.float32), np.ones((n, 1), bool), np.zeros((n, 1))
        )
    }


def _heads_for(width: int) -> int:
    return next(h for h in (8, 6, 4, 2, 1) if width % h == 0)


def build_head(classes: Sequence[str], features: np.ndarray, y: np.ndarray, meta) -> FusionModel:
    """An untrained head whose class vectors are the species' mean crop features."""
    dim = features.shape[1]
    config = FusionConfig(
        modalities={"crop": dim},
        tasks=[TaskConfig(TASK, classes=list(classes))],
        d_model=dim,
        n_layers=0,
        n_heads=_heads_for(dim),
        d_ff=dim,
        d_task_ff=0,
        meta={"format": HEAD_FORMAT, **meta},
    )
    model = FusionModel(config)
    means = np.stack([normalise(features[y == c].mean(axis=0)) for c in range(len(classes))])
    model.set_class_vectors(TASK, means.astype(np.float32))
    return model


def read_head(folder: Path) -> tuple[dict, list[str]]:
    """A species head's metadata and species, read from its config alone.

    Raises:
        UsageError: no model there, or a model that is not a wildlife species head.
    """
    config = head_config(folder, HEAD_FORMAT, "wildlife")
    return config.meta, list(config.tasks[0].classes)


class SpeciesHead:
    """A trained species head, loaded from a model folder (``read_head`` checks it)."""

    def __init__(self, folder: Path, device: str = "cpu"):
        self.meta, self.classes = read_head(folder)
        self.model = load_model(folder, device)

    def scores(self, features: np.ndarray) -> np.ndarray:
        """float32 [N, S] species probabilities of N crops' features [N, F]."""
        from mmfuse.fusion.inference import predict

        return predict(self.model, inputs(features))[TASK]
