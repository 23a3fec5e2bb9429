"""From a file's animal detections and its whole picture to one name from the species list.

A file is named from two views together: its animal crops (pooled: ImageNet distributions and
features averaged, weighted by animal mass) and its whole picture. Each view gets species
scores (``Namer.view_scores``: zero-shot by ``conse.label_distribution``, the scoring of
``mmfuse label``, on the view's animal classes, blended with few-shot prototypes when examples
are given); the file's scores are their geometric mean (a product of experts: the crop decides
where it is sure and the whole picture where the crop is a fragment of leaves). Those raw
scores travel in the row (``SPECIES_SCORES``) and ``adjust`` corrects them once the survey is
complete: a name that wins on every file is the classifier's bias, not the survey's fauna.

The name is always one of the list's: the best species with its score, and a note when the
score is under ``threshold``. With ``rollup``, an unsure file is named by the list's group
(``# group NAME: member, member``) holding at least ``threshold`` of the score instead.
Without a species list the ImageNet animal classes are the list, and ``rollup`` climbs
WordNet ("cat", "bird", "mammal").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmfuse.encoders import conse
from mmfuse.encoders.conse import normalise
from mmfuse.tasks.wildlife.groups import category_matrix, roll_up
from mmfuse.tasks.wildlife.locate import Detection
from mmfuse.tasks.wildlife.species import (
    EVEN_BLEND,
    Group,
    Species,
    blend,
    few_shot_scores,
    format_top,
    leave_one_out_weight,
)

# Share of the animal mass a WordNet group needs in the roll-up (runs without a species list).
ROLL_UP_MASS = 0.6
# The row's array: the file's species scores before the survey's adjustment.
SPECIES_SCORES = "species_scores"
# Survey adjustment: each name's score is divided by its mean over the survey's animal files
# to this power. 1 would make every name equally frequent (wrong for a survey that is mostly
# one species), 0 leaves the bias; the square root halves it on the log scale. The mean is
# shrunk to uniform by this many pseudo-files, so a survey of a few files is barely adjusted.
ADJUST_POWER = 0.5
ADJUST_PSEUDO_FILES = 5.0
LOW_SCORE_NOTE = "low species score {score:.2f}: check the name"


@dataclass(frozen=True)
class Naming:
    """A file's name for what it shows.

    Attributes:
        species: the species, or the list's group when unsure and rolling up ("" for none).
        score: its probability over the list (the group's: the sum of its members').
        top: the three best species with scores ("" without a list).
        level: "species" or "group" ("class", "animal" for WordNet roll-ups without a list).
        note: "" or why the name needs checking.
    """

    species: str = ""
    score: float | None = None
    top: str = ""
    level: str = ""
    note: str = ""


def geometric_mean(scores: Sequence[np.ndarray]) -> np.ndarray:
    """float32 [S]: the normalised geometric mean of probability vectors over the same names."""
    logs = np.mean([np.log(np.maximum(np.asarray(s, np.float64), 1e-12)) for s in scores], axis=0)
    out = np.exp(logs - logs.max())
    return (out / out.sum()).astype(np.float32)


def survey_prior(scores: Sequence[np.ndarray]) -> np.ndarray | None:
    """float64 [S]: each name's mean score over the survey's files, shrunk to uniform by
    ADJUST_PSEUDO_FILES (None without files)."""
    if not len(scores):
        return None
    stacked = np.stack([np.asarray(s, np.float64) for s in scores])
    n, width = stacked.shape
    return (stacked.sum(axis=0) + ADJUST_PSEUDO_FILES / width) / (n + ADJUST_PSEUDO_FILES)


def adjust(scores: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    """float32 [S]: ``scores`` divided by ``prior`` ** ADJUST_POWER, normalised."""
    if prior is None:
        return np.asarray(scores, np.float32)
    out = np.asarray(scores, np.float64) / np.maximum(prior, 1e-12) ** ADJUST_POWER
    return (out / out.sum()).astype(np.float32)


def partial_few_shot(zero: np.ndarray, features: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """float32 [N, S] few-shot scores that say nothing about species without examples: those
    keep their zero-shot score, and the species with examples share the rest of the zero-shot
    mass by their similarity to the prototypes (``few_shot_scores``).

    Args:
        zero: float32 [N, S] zero-shot scores.
        features: float32 [N, F] L2-normalised view features.
        prototypes: float32 [S, F] prototypes (zero rows: no examples).
    """
    few = few_shot_scores(features, prototypes).astype(np.float64)
    present = prototypes.any(axis=1)
    if present.all() or not present.any():
        return few.astype(np.float32)
    mass = zero[:, present].sum(axis=1, keepdims=True)
    share = few[:, present] / np.maximum(few[:, present].sum(axis=1, keepdims=True), 1e-12)
    out = zero.astype(np.float64).copy()
    out[:, present] = share * mass
    return out.astype(np.float32)


class Namer:
    """Names a file's animal detections with one image encoder and an optional species list.

    Args:
        encoder: the ``ImageEncoder`` that classified the crops.
        species: the species list, or None to name by ImageNet's animal classes.
        threshold: the score under which a name is noted as unsure (and rolls up with
            ``rollup``).
        prototypes: float32 [S, F] few-shot prototypes of the species, or None.
        examples: the examples' crops (``examples.Examples``), to choose how much the
            prototypes count by leave-one-out; None: the even blend.
        head: a trained species head (``head.SpeciesHead``) whose probabilities are the
            scores instead (``species`` is its list then).
        groups: the list's groups (``species.Group``).
        rollup: name an unsure file by its group (by WordNet without a list).
    """

    def __init__(
        self,
        encoder,
        species: Sequence[Species] | None,
        threshold: float,
        prototypes: np.ndarray | None = None,
        examples=None,
        head=None,
        groups: Sequence[Group] = (),
        rollup: bool = False,
    ):
        self.encoder = encoder
        self.species = list(species) if species else []
        self.names = [s.name for s in self.species]
        self.threshold = threshold
        self.prototypes = prototypes
        self.head = head
        self.groups = list(groups)
        self.rollup = rollup
        self.weight = EVEN_BLEND
        if prototypes is not None and examples is not None:
            zero = self._zero_shot(examples.probs, examples.features)
            n = len(self.species)
            self.weight = leave_one_out_weight(zero, examples.features, examples.labels, n)

    def _zero_shot(self, probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """float32 [N, S]: ``label_scores`` of the views' animal classes (their share of the
        animal mass, so leaves and bark do not vote)."""
        from mmfuse.encoders.image import ImageFeatures

        animal = probs.astype(np.float64) * category_matrix()[:, 0]
        total = animal.sum(axis=1, keepdims=True)
        shares = np.where(total > 1e-9, animal / np.maximum(total, 1e-12), probs)
        feats = ImageFeatures(features, shares.astype(np.float32), np.zeros((len(probs), 1)))
        return self.encoder.label_scores(feats, [s.prompt for s in self.species])

    def view_scores(self, probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """float32 [N, S] species scores of N views (probabilities [N, 1000], features [N, F])."""
        if self.head is not None:
            return self.head.scores(features)
        zero = self._zero_shot(probs, features)
        if self.prototypes is None:
            return zero
        return blend(zero, partial_few_shot(zero, features, self.prototypes), self.weight)

    def evidence(
        self, detections: Sequence[Detection], whole: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray | None:
        """float32 [S] (or [1000] without a list: ImageNet probabilities) the file's raw
        scores from its animal crops and its whole picture (probabilities, features); None
        without an animal."""
        animals = [d for d in detections if d.category == "animal"]
        if not animals:
            return None
        weights = np.asarray([d.mass for d in animals], dtype=np.float64)
        probs = np.average([d.probs for d in animals], axis=0, weights=weights)
        if not self.species:
            views = [probs] if whole is None else [probs, whole[0]]
            return np.mean(views, axis=0).astype(np.float32)
        features = normalise(np.average([d.features for d in animals], axis=0, weights=weights))
        views_probs, views_features = [probs], [features]
        if whole is not None and self.head is None:  # a head is trained on crops only
            views_probs.append(whole[0])
            views_features.append(normalise(whole[1]))
        scores = self.view_scores(
            np.stack(views_probs).astype(np.float32), np.stack(views_features).astype(np.float32)
        )
        return geometric_mean(list(scores))

    def name(self, scores: np.ndarray | None) -> Naming:
        """The name a file's (adjusted) scores give (Naming() for None: no animal)."""
        if scores is None:
            return Naming()
        if not self.species:
            return self._by_imagenet(scores)
        scores = np.asarray(scores, np.float32)
        best = int(scores.argmax())
        top = format_top(self.names, scores)
        score = float(scores[best])
        if score >= self.threshold:
            return Naming(self.names[best], round(score, 4), top, "species")
        note = LOW_SCORE_NOTE.format(score=score)
        if self.rollup and self.groups:
            share = {n: float(s) for n, s in zip(self.names, scores, strict=True)}
            totals = [(sum(share[m] for m in g.members), g.name) for g in self.groups]
            total, group = max(totals)
            if total >= self.threshold:
                return Naming(group, round(total, 4), top, "group")
        return Naming(self.names[best], round(score, 4), top, "species", note)

    def _by_imagenet(self, probs: np.ndarray) -> Naming:
        animal = probs * category_matrix()[:, 0]
        shares = animal / max(float(animal.sum()), 1e-12)
        best = int(shares.argmax())
        top_classes = np.argsort(-shares)[:3]
        names = [c.name for c in conse.imagenet_classes()]
        top = "; ".join(f"{names[i]} {shares[i]:.2f}" for i in top_classes)
        score = float(shares[best])
        if score >= self.threshold:
            return Naming(names[best], round(score, 4), top, "species")
        if self.rollup:
            level, group, share = roll_up(probs, ROLL_UP_MASS)
            return Naming(group, round(share, 4), top, level)
        return Naming(
            names[best], round(score, 4), top, "species", LOW_SCORE_NOTE.format(score=score)
        )
