"""From a file's animal detections to one name: species, score, top three, prediction level.

The evidence of a file's animal crops is pooled first (their ImageNet distributions and
features averaged, weighted by animal mass, so a crop the classifier is sure of counts more
than a doubtful one) and the pooled crop is named once. When the best
species reaches ``species_threshold`` it is the answer (``prediction_level`` "species");
otherwise the crops' ImageNet distribution is rolled up the WordNet tree (``groups.roll_up``)
to the most specific group that holds most of it: "cat", "primate", "bird", "mammal", or
"animal" — a coarser truth instead of a confident wrong species. Without a species list, the
best ImageNet animal class is the species.
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
    Species,
    blend,
    few_shot_scores,
    format_top,
    leave_one_out_weight,
    zero_shot_scores,
)

# Share of the animal mass a taxonomic group needs in the roll-up.
ROLL_UP_MASS = 0.6


@dataclass(frozen=True)
class Naming:
    """A file's name for what it shows.

    Attributes:
        species: the species, or the coarser group when unsure ("" for no animal).
        score: the species' score (or the group's share of the animal mass).
        top: the three best species with scores ("" without a list).
        level: "species", "group", "class" or "animal" ("" for no animal).
    """

    species: str = ""
    score: float | None = None
    top: str = ""
    level: str = ""


class Namer:
    """Names animal detections with one image encoder and an optional species list.

    Args:
        encoder: the ``ImageEncoder`` that classified the crops.
        species: the species list, or None to name by ImageNet's animal classes.
        threshold: the species score below which the name rolls up.
        prototypes: float32 [S, F] few-shot prototypes of the species, or None.
        examples: the examples' crops (``examples.Examples``), to choose how much the
            prototypes count by leave-one-out; None: the even blend.
        head: a trained species head (``head.SpeciesHead``) whose probabilities are the
            scores instead (``species`` is its list then).
    """

    def __init__(
        self,
        encoder,
        species: Sequence[Species] | None,
        threshold: float,
        prototypes: np.ndarray | None = None,
        examples=None,
        head=None,
    ):
        self.encoder = encoder
        self.species = list(species) if species else []
        self.names = [s.name for s in self.species]
        self.threshold = threshold
        self.prototypes = prototypes
        self.head = head
        self.vectors = None
        if self.species and self._uses_conse and head is None:
            prompts = [s.prompt for s in self.species]
            self.vectors = conse.label_embeddings(encoder.text_encoder, prompts)
        self.weight = EVEN_BLEND
        if prototypes is not None and examples is not None:
            zero = self._zero_shot(examples.probs, examples.features)
            n = len(self.species)
            self.weight = leave_one_out_weight(zero, examples.features, examples.labels, n)

    @property
    def _uses_conse(self) -> bool:
        """Whether the encoder scores labels through ImageNet classes (not its own text tower)."""
        from mmfuse.encoders.image import ImageEncoder

        return type(self.encoder).label_scores is ImageEncoder.label_scores

    def _zero_shot(self, probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        if self.vectors is not None:
            return zero_shot_scores(probs, self.encoder.class_embeddings, self.vectors)
        from mmfuse.encoders.image import ImageFeatures

        feats = ImageFeatures(features, probs, np.zeros((len(probs), 1), np.float32))
        return self.encoder.label_scores(feats, [s.prompt for s in self.species])

    def scores(self, probs: np.ndarray, features: np.ndarray) -> np.ndarray:
        """float32 [N, S] species scores of N crops (probabilities [N, 1000], features [N, F])."""
        if self.head is not None:
            return self.head.scores(features)
        zero = self._zero_shot(probs, features)
        few = None if self.prototypes is None else few_shot_scores(features, self.prototypes)
        return blend(zero, few, self.weight)

    def name(self, detections: Sequence[Detection]) -> Naming:
        """The name of a file's animal detections (Naming() when there are none)."""
        animals = [d for d in detections if d.category == "animal"]
        if not animals:
            return Naming()
        weights = np.asarray([d.mass for d in animals], dtype=np.float64)
        probs = np.stack([d.probs for d in animals])
        mean_probs = np.average(probs, axis=0, weights=weights)
        if not self.species:
            return self._by_imagenet(mean_probs)
        features = normalise(np.average([d.features for d in animals], axis=0, weights=weights))
        scores = self.scores(mean_probs[None].astype(np.float32), features[None])[0]
        best = int(scores.argmax())
        top = format_top(self.names, scores)
        if scores[best] >= self.threshold:
            return Naming(self.names[best], round(float(scores[best]), 4), top, "species")
        level, group, share = roll_up(mean_probs, ROLL_UP_MASS)
        return Naming(group, round(share, 4), top, level)

    def _by_imagenet(self, probs: np.ndarray) -> Naming:
        animal = probs * category_matrix()[:, 0]
        shares = animal / max(float(animal.sum()), 1e-12)
        best = int(shares.argmax())
        top_classes = np.argsort(-shares)[:3]
        names = [c.name for c in conse.imagenet_classes()]
        top = "; ".join(f"{names[i]} {shares[i]:.2f}" for i in top_classes)
        if shares[best] >= self.threshold:
            return Naming(names[best], round(float(shares[best]), 4), top, "species")
        level, group, share = roll_up(probs, ROLL_UP_MASS)
        return Naming(group, round(share, 4), top, level)
