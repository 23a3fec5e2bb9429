"""Name: species scores for animal crops, zero-shot from a species list, few-shot from examples.

The species file has one species a line, optionally with a description after a colon, and
optional groups of them (a genus, a family, "cats") that ``--rollup`` may name instead of a
species when unsure::

    zebra: a horse with black and white stripes
    mountain zebra
    African elephant
    # group zebras: zebra, mountain zebra
    # other comments and blank lines are ignored

Zero-shot, each species is the text "name: description" (or the name alone) scored against
a view of the file (its animal crops, its whole picture) by the image encoder's
``label_scores``, as ``mmfuse label`` scores labels: for an ImageNet classifier, the label's
softmax over the 1000 WordNet class texts meets the view's class distribution
(``mmfuse.encoders.conse.label_distribution``), so "a horse with black and white stripes"
reaches the zebra class through horse and stripes even under a name the text model has never
seen; for CLIP, its own text tower (``naming`` does the scoring). Few-shot (``--examples DIR``,
one sub-folder of images per species): each species also gets the mean pooled feature of its
examples' best animal crops, and a view's similarity to those prototypes (a softmax at
FEW_SHOT_TEMPERATURE) is blended with the zero-shot scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.encoders.conse import normalise

# Softmax temperature over cosine similarities to the few-shot prototypes (pooled CNN features
# of one species' crops sit around 0.6-0.8 from each other, other species' 0.3-0.5).
FEW_SHOT_TEMPERATURE = 0.05
# Weights of the few-shot scores in the blend with zero-shot ones, tried by leave-one-out on
# the examples (as ``mmfuse.fusion.fewshot`` does for text); ties go to the even blend.
BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
EVEN_BLEND = 0.5
# Species listed in ``top_species``.
TOP_SPECIES = 3


@dataclass(frozen=True)
class Species:
    """One line of the species file.

    Attributes:
        name: what the output calls it ("zebra").
        description: free text after the colon, "" when none.
    """

    name: str
    description: str = ""

    @property
    def prompt(self) -> str:
        """The text scored zero-shot: "name: description", or the name alone."""
        return f"{self.name}: {self.description}" if self.description else self.name


# A group line: "# group NAME: member, member".
GROUP_PREFIX = "group "


@dataclass(frozen=True)
class Group:
    """A level above some species of the list, defined in it (``# group cats: lion, ocelot``).

    Attributes:
        name: what the output calls it ("cats").
        members: the listed species it holds, as the list spells them.
    """

    name: str
    members: tuple[str, ...]


def parse_groups(text: str, species: Sequence[Species]) -> list[Group]:
    """The ``# group NAME: member, member`` lines of a species file.

    Raises:
        ValueError: a group without a name or members, one naming a species not in the list,
            or a group name that is also a species or another group.
    """
    listed = {s.name.casefold(): s.name for s in species}
    groups: dict[str, Group] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("#"):
            continue
        body = line[1:].strip()
        if not body.casefold().startswith(GROUP_PREFIX):
            continue
        name, _, members = body[len(GROUP_PREFIX) :].partition(":")
        name = " ".join(name.split())
        parts = [" ".join(m.split()) for m in members.split(",") if m.strip()]
        if not name or not parts:
            raise ValueError(f"group line needs a name and members: {line!r}")
        unknown = [m for m in parts if m.casefold() not in listed]
        if unknown:
            raise ValueError(f"group {name!r} names species not in the list: {', '.join(unknown)}")
        if name.casefold() in listed or name.casefold() in groups:
            raise ValueError(f"group name {name!r} is already a species or a group")
        groups[name.casefold()] = Group(name, tuple(listed[m.casefold()] for m in parts))
    return list(groups.values())


def parse_species(text: str) -> list[Species]:
    """Species from the file's text: one a line, "name: description", "#" comments (group
    lines, ``parse_groups``, included).

    Raises:
        ValueError: no species, or a name given twice.
    """
    found: dict[str, Species] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, description = line.partition(":")
        name, description = " ".join(name.split()), " ".join(description.split())
        if not name:
            raise ValueError(f"species line without a name: {line!r}")
        if name.casefold() in found:
            raise ValueError(f"species listed twice: {name!r}")
        found[name.casefold()] = Species(name, description)
    if not found:
        raise ValueError("the species list is empty")
    return list(found.values())


def read_species(path: Path) -> tuple[list[Species], list[Group]]:
    """``parse_species`` and ``parse_groups`` of a UTF-8 file."""
    text = path.read_text(encoding="utf-8-sig")
    species = parse_species(text)
    return species, parse_groups(text, species)


def few_shot_scores(features: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """float32 [N, S]: softmax over species of the crops' cosine similarity to the prototypes.

    Args:
        features: float32 [N, F] L2-normalised crop features.
        prototypes: float32 [S, F] L2-normalised species means (zero rows: no examples; such a
            species gets the mean score of the others' floor, so it neither wins nor vanishes).
    """
    similarity = features.astype(np.float64) @ prototypes.T.astype(np.float64)  # [N, S]
    missing = ~prototypes.any(axis=1)
    if missing.any() and (~missing).any():
        similarity[:, missing] = similarity[:, ~missing].min(axis=1, keepdims=True)
    logits = similarity / FEW_SHOT_TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    scores = np.exp(logits)
    return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def prototypes_from(features: Sequence[np.ndarray], labels: Sequence[int], n: int) -> np.ndarray:
    """float32 [n, F] L2-normalised mean feature per species (zeros for one without examples)."""
    dim = len(features[0]) if len(features) else 0
    sums = np.zeros((n, dim), dtype=np.float64)
    for feature, label in zip(features, labels, strict=True):
        sums[label] += feature
    return normalise(sums).astype(np.float32)


def blend(zero_shot: np.ndarray, few_shot: np.ndarray | None, weight: float) -> np.ndarray:
    """The species scores: zero-shot alone, or mixed with few-shot ones at ``weight``."""
    if few_shot is None:
        return zero_shot
    return (1 - weight) * zero_shot + weight * few_shot


def leave_one_out_weight(
    zero_shot: np.ndarray, features: np.ndarray, labels: Sequence[int], n_species: int
) -> float:
    """The few-shot weight of BLEND_GRID that names the most examples right when each is
    scored against prototypes made without it.

    Args:
        zero_shot: float32 [N, S] the examples' zero-shot scores.
        features: float32 [N, F] their L2-normalised crop features.
        labels: their species indices.
        n_species: S.
    """
    labels = np.asarray(labels)
    sums = np.zeros((n_species, features.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, features)
    few = np.zeros_like(zero_shot)
    for i, (feature, label) in enumerate(zip(features, labels, strict=True)):
        held_out = sums.copy()
        held_out[label] -= feature
        few[i] = few_shot_scores(feature[None], normalise(held_out).astype(np.float32))[0]
    right = {w: float(np.mean(blend(zero_shot, few, w).argmax(1) == labels)) for w in BLEND_GRID}
    best = max(right.values())
    return min((w for w in BLEND_GRID if right[w] == best), key=lambda w: abs(w - EVEN_BLEND))


def format_top(names: Sequence[str], scores: np.ndarray, k: int = TOP_SPECIES) -> str:
    """ "zebra 0.81; horse 0.10; eland 0.04": the ``top_species`` cell."""
    order = np.argsort(-scores, kind="stable")[:k]
    return "; ".join(f"{names[i]} {scores[i]:.2f}" for i in order)
