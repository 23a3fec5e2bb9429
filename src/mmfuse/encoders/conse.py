"""From ImageNet-1k probabilities to words: ConSE projection, zero-shot labels, concepts.

An ImageNet classifier knows 1000 classes; users ask about their own labels ("a red
motorcycle", "empty scene"). The bridge is the text space of the default sentence encoder,
where each class is described by its WordNet entry (``data/imagenet_hierarchy.tsv``, made by
``scripts/build_imagenet_hierarchy.py``):

- ``conse_project``: ConSE (Norouzi et al. 2014, "Zero-Shot Learning by Convex Combination of
  Semantic Embeddings"): an image's vector in the text space is the probability-weighted mean
  of its top-T class embeddings. It is the image token the fusion model reads.
- ``label_distribution``: zero-shot label probabilities. Each label is turned into a
  distribution over the 1000 classes (a softmax of its text similarity to each class), and
  scored by how much it overlaps the image's class distribution. Normalising each label over
  the classes first, rather than comparing one projected vector with every label, stops a
  generic label that is mildly similar to everything (a "hub") from winning every image.
- ``concept_scores``: the mass of the image's distribution on each class name and each WordNet
  coarse category (animal, bird, vehicle, food, ...).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from mmfuse import config

# The class table: ImageNet-1k classes in classifier order, with their WordNet text.
HIERARCHY_FILE = "imagenet_hierarchy.tsv"
# ConSE's T, the number of most probable classes mixed into the projection (Norouzi et al.
# 2014 report T=10 as their best setting).
CONSE_TOP_T = 10
# Temperature of a label's softmax over the 1000 class texts, on cosine similarities in
# [-1, 1]: 0.05 gives about e^2 more weight per 0.1 of similarity. Results were stable from 0.02
# to 0.2 on the development images.
LABEL_TEMPERATURE = 0.05
# Each label is embedded as the mean of these phrasings (CLIP-style prompt ensembling): the
# bare text matches captions, the prompt matches single nouns the way class texts are written.
LABEL_TEMPLATES = ("{}", "a photo of a {}")
# Hypernyms named in a class's "a kind of" text: the nearest three say what it is
# ("tabby, a kind of domestic cat, cat, feline") before the chain turns taxonomic.
N_ANCESTORS = 3


class TextEmbedder(Protocol):
    """What the text side needs from a text encoder (``mmfuse.encoders.text.TextEncoder``)."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [N, D] L2-normalised sentence embeddings."""
        ...


@dataclass(frozen=True)
class ImageNetClass:
    """One ImageNet-1k class with its WordNet description.

    Attributes:
        index: position in the classifier's 1000 outputs.
        wnid: WordNet 3.0 noun synset id ("n02123045").
        name: its first WordNet lemma, the display name ("tabby").
        synonyms: the other lemmas ("tabby cat").
        gloss: the WordNet definition.
        ancestors: hypernyms from the nearest up ("domestic cat", "cat", "feline", ...).
        coarse: coarse categories it belongs to ("animal", "mammal", "cat").
    """

    index: int
    wnid: str
    name: str
    synonyms: tuple[str, ...]
    gloss: str
    ancestors: tuple[str, ...]
    coarse: tuple[str, ...]

    def texts(self) -> tuple[str, str, str]:
        """Three views of the class, embedded and averaged: its names, its gloss, its kind."""
        names = ", ".join((self.name, *self.synonyms[:2]))
        kind = ", ".join(self.ancestors[:N_ANCESTORS]) or self.name
        return names, f"{self.name}: {self.gloss}", f"{self.name}, a kind of {kind}"


@functools.cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 ImageNet-1k classes in classifier order, read from the packaged table."""
    table = resources.files("mmfuse").joinpath("data", HIERARCHY_FILE).read_text(encoding="utf-8")

    def items(cell: str) -> tuple[str, ...]:
        return tuple(part for part in cell.split("|") if part)

    return tuple(
        ImageNetClass(
            index=int(row["index"]),
            wnid=row["wnid"],
            name=row["name"],
            synonyms=items(row["synonyms"]),
            gloss=row["gloss"],
            ancestors=items(row["ancestors"]),
            coarse=items(row["coarse"]),
        )
        for row in csv.DictReader(table.splitlines(), delimiter="\t")
    )


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def save_npy_atomic(array: np.ndarray, path: Path) -> None:
    fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb") as f:
            np.save(f, array)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def class_text_embeddings(text_encoder: TextEmbedder) -> np.ndarray:
    """float32 [1000, D] L2-normalised embedding of each ImageNet class's texts.

    Computed once per text model and class table, then read from ``models_cache_dir()`` (the
    file name carries the text model id and a hash of the texts, so a changed table or recipe
    is a new file). The default text model's file ships in ``mmfuse/data`` (made by
    ``scripts/build_class_embeddings.py``), so a fresh install needs no minute of encoding.
    """
    path = class_embeddings_path(text_encoder.model_id)
    shipped = resources.files("mmfuse").joinpath("data", path.name)
    for candidate in (shipped, path):
        if candidate.is_file():
            with candidate.open("rb") as f:
                return np.load(f, allow_pickle=False)
    texts = [text for cls in imagenet_classes() for text in cls.texts()]
    views = text_encoder.encode(texts).astype(np.float32)  # [1000 * 3, D]
    embeddings = normalise(views.reshape(len(imagenet_classes()), 3, -1).mean(axis=1))
    save_npy_atomic(embeddings.astype(np.float32), path)
    return embeddings.astype(np.float32)


def class_embeddings_path(text_model_id: str) -> Path:
    """Cache file of the class text embeddings for a text model and the current class texts."""
    texts = [text for cls in imagenet_classes() for text in cls.texts()]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text_model_id)
    return config.models_cache_dir() / f"imagenet-class-text-{slug}-{digest}.npy"


def label_embeddings(text_encoder: TextEmbedder, labels: Sequence[str]) -> np.ndarray:
    """float32 [L, D] L2-normalised: each label as the mean of its LABEL_TEMPLATES phrasings."""
    texts = [template.format(label) for label in labels for template in LABEL_TEMPLATES]
    views = (
        text_encoder.encode(texts).astype(np.float32).reshape(len(labels), len(LABEL_TEMPLATES), -1)
    )
    return normalise(views.mean(axis=1))


def conse_project(
    probs: np.ndarray, class_embeddings: np.ndarray, top_t: int = CONSE_TOP_T
) -> np.ndarray:
    """ConSE: each image as the probability-weighted mean of its top-T class embeddings.

    Args:
        probs: float32 [N, C] class probabilities.
        class_embeddings: float32 [C, D] class text embeddings.
        top_t: number of most probable classes mixed.

    Returns:
        float32 [N, D], L2-normalised.
    """
    top = np.argsort(-probs, axis=1)[:, :top_t]  # [N, T]
    weights = np.take_along_axis(probs, top, axis=1)  # [N, T]
    mixed = np.einsum("nt,ntd->nd", weights, class_embeddings[top])
    return normalise(mixed).astype(np.float32)


def label_distribution(
    probs: np.ndarray,
    class_embeddings: np.ndarray,
    label_vectors: np.ndarray,
    temperature: float = LABEL_TEMPERATURE,
) -> np.ndarray:
    """Zero-shot probabilities of free-text labels from class probabilities.

    Each label l becomes a distribution q(c | l) over the classes, a softmax of its cosine
    similarity to each class text; the image's score for l is the overlap
    ``sum_c p(c | image) q(c | l)``, the chance that a class drawn from each agrees. Scores are
    normalised over the labels.

    Args:
        probs: float32 [N, C] class probabilities of N images.
        class_embeddings: float32 [C, D] L2-normalised class text embeddings.
        label_vectors: float32 [L, D] L2-normalised label embeddings.
        temperature: softmax temperature over the classes.

    Returns:
        float32 [N, L], each row summing to 1.
    """
    similarity = class_embeddings.astype(np.float64) @ label_vectors.T.astype(np.float64)  # [C, L]
    logits = similarity / temperature
    q = np.exp(logits - logits.max(axis=0, keepdims=True))
    q /= q.sum(axis=0, keepdims=True)  # [C, L], each label a distribution over classes
    overlap = probs.astype(np.float64) @ q  # [N, L]; > 0, as every q(c | l) is (float64)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


@functools.cache
def _concept_matrix() -> tuple[tuple[str, ...], np.ndarray]:
    """Concept names (class names, then coarse categories) and their class membership.

    Returns:
        names [K] and float32 [1000, K] with 1 where a class is, or falls under, a concept.
        Classes that share a name ("crane" the bird and the machine) share one concept.
    """
    classes = imagenet_classes()
    names: dict[str, int] = {}
    for cls in classes:
        names.setdefault(cls.name, len(names))
    for cls in classes:
        for coarse in cls.coarse:
            names.setdefault(coarse, len(names))
    membership = np.zeros((len(classes), len(names)), dtype=np.float32)
    for cls in classes:
        for name in (cls.name, *cls.coarse):
            membership[cls.index, names[name]] = 1.0
    return tuple(names), membership


def concept_scores(probs: np.ndarray, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """The ``top_k`` visual concepts of each image: class names and coarse categories.

    Args:
        probs: float32 [N, 1000] ImageNet class probabilities.
        top_k: concepts per image.

    Returns:
        Per image, (concept, probability mass) pairs, highest first; a coarse category's mass
        is the sum over its classes ("animal" 0.97 above "tabby" 0.17).
    """
    names, membership = _concept_matrix()
    mass = probs.astype(np.float32) @ membership  # [N, K]
    order = np.argsort(-mass, axis=1, kind="stable")[:, :top_k]
    return [
        [(names[k], float(row[k])) for k in ranked] for row, ranked in zip(mass, order, strict=True)
    ]
