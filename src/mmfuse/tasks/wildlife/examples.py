"""Few-shot prototypes from ``--examples DIR``: one sub-folder of camera-trap images per species.

Each example goes through the same locate step as the survey's files, so a prototype is the
mean feature of the species' best animal crops, not of whole frames where the animal is a few
percent of the pixels. Folder names match species names ignoring case, and "_" reads as a
space ("leopard_cat" is "leopard cat"); without a species list the folders are the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError, UsageError
from mmfuse.tasks.wildlife.reading import read_photo
from mmfuse.tasks.wildlife.species import Species, prototypes_from
from mmfuse.types import media_kind


@dataclass
class Examples:
    """The examples' best crops: float32 [N, F] features, [N, 1000] ImageNet probabilities,
    and their species indices."""

    features: np.ndarray
    probs: np.ndarray
    labels: list[int]


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def example_files(folder: Path) -> dict[str, list[Path]]:
    """Species folder name -> its image files (sorted; hidden files skipped)."""
    found = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            p
            for p in sub.rglob("*")
            if p.is_file() and not p.name.startswith(".") and media_kind(p) == "image"
        )
        if files:
            found[sub.name] = files
    return found


def example_prototypes(
    folder: Path, species: Sequence[Species] | None, locator
) -> tuple[list[Species], np.ndarray, Examples]:
    """The species list (the folders' names when none is given), float32 [S, F] prototypes
    and the examples' crops (for choosing the blend).

    Args:
        folder: the examples folder.
        species: the species list, or None.
        locator: the run's ``Locator`` (its crop encoder gives the features).

    Raises:
        UsageError: no usable examples, or a folder that names no listed species.
    """
    files = example_files(folder)
    if not files:
        raise UsageError(f"no example images in sub-folders of {folder}")
    listed = list(species) if species else [Species(name.replace("_", " ")) for name in files]
    index = {_key(s.name): i for i, s in enumerate(listed)}
    unknown = [name for name in files if _key(name) not in index]
    if unknown:
        raise UsageError(f"example folders not in the species list: {', '.join(unknown)}")
    features, labels = [], []
    for name, paths in files.items():
        for path in paths:
            feature = _best_crop_feature(path, locator)
            if feature is not None:
                features.append(feature)
                labels.append(index[_key(name)])
    if not features:
        raise UsageError(f"none of the example images in {folder} could be read")
    crops = Examples(np.stack([f[1] for f in features]), np.stack([f[0] for f in features]), labels)
    return listed, prototypes_from(list(crops.features), labels, len(listed)), crops


def _best_crop_feature(path: Path, locator) -> tuple[np.ndarray, np.ndarray] | None:
    """(ImageNet probabilities, features) of the example's strongest animal crop (of any crop
    when none is an animal, of the whole frame when there is none), or None when the image
    cannot be read."""
    try:
        media = read_photo(path, [])
    except InputError:
        return None
    located = locator.locate(media.frames, media.thumbs, media.positions)
    found = [d for frame in located.detections for d in frame]
    animals = [d for d in found if d.category == "animal"] or found
    if not animals:
        feats = locator.encoder.encode(media.frames)
        return feats.probs[0], feats.features[0]
    best = max(animals, key=lambda d: d.mass)
    return best.probs, best.features
