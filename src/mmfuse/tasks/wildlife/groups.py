"""What an ImageNet distribution says about a camera-trap crop: animal, person or vehicle, and
how far down the tree of life it can be trusted.

Both come from the WordNet table the project ships (``data/imagenet_hierarchy.tsv``): a class
counts for a category or a taxonomic group when WordNet puts it under it, and a crop's score for
a category is its probability mass on those classes.
"""

from __future__ import annotations

import functools

import numpy as np

from mmfuse.encoders.conse import imagenet_classes

CATEGORIES = ("animal", "person", "vehicle")
# Animals a camera trap is set for: vertebrates on land. Invertebrate and fish classes are left
# out because ImageNet classifiers give leaves, bark and grass to them (walking stick, leaf
# beetle, nematode), which would make every blank an "animal".
ANIMAL_EXCLUDED = frozenset({"invertebrate", "fish"})
# ImageNet has three person classes; a person in a camera-trap photo shows mostly as clothing
# (WordNet "clothing") and what people carry or wear on the way past.
PERSON_COARSE = frozenset({"person", "clothing"})
# Clothing classes that are no person's outline and that striped or spotted coats reach ("sock"
# for a zebra's legs): not counted for a person.
PERSON_EXCLUDED = frozenset(
    {"sock", "Christmas stocking", "mitten", "bow tie", "Windsor tie", "bolo tie", "feather boa"}
)
PERSON_ITEMS = frozenset(
    {
        "backpack",
        "running shoe",
        "cowboy boot",
        "sandal",
        "Loafer",
        "clog",
        "cloak",
        "ski mask",
        "sunglasses",
        "umbrella",
        "crutch",
        "holster",
    }
)
# What people carry, operate or ride past a camera (hunters, forestry workers, cyclists). An
# ImageNet classifier, which has no class for a standing person, gives one to the classes whose
# photos show people using these: the crop of a man far off in a forest (speciesnet's human.jpg)
# is 0.19 "chain saw", "lawn mower", "mountain bike" and the like, and 0.05 clothing. Counted on
# crops only: the scan's over-confident windows put sticks at up to 0.37 "bow" and "rifle", and
# proposals moved by them turned a blank into an animal.
PERSON_CARRIED = frozenset(
    {
        "assault rifle",
        "rifle",
        "revolver",
        "bow",
        "chain saw",
        "power drill",
        "lawn mower",
        "mountain bike",
        "bicycle-built-for-two",
        "unicycle",
        "tricycle",
    }
)
# A crop's mass on them counts this many times toward a person, so 0.125 of it reaches the 0.5 a
# person needs: twice the most that crops without a person reach (the rule of the vehicle
# threshold; 460 EfficientNet-Lite2 crops of the 115 files of the development sets: at most
# 0.061, 99th percentile 0.033), where clothing reaches 0.24 on a zebra's stripes.
CARRIED_WEIGHT = 4.0
# Taxonomic roll-up, from the most specific to the least: WordNet groups below "mammal" that
# camera traps tell apart (about family or order), then vertebrate classes, then "animal".
ROLL_UP_LEVELS = (
    ("group", ("cat", "bear", "wild dog", "dog", "primate", "rodent", "hoofed mammal")),
    ("class", ("mammal", "bird", "reptile", "amphibian")),
    ("animal", ("animal",)),
)


@functools.cache
def category_matrix() -> np.ndarray:
    """float32 [1000, 3]: 1 where an ImageNet class counts for animal, person, vehicle."""
    matrix = np.zeros((1000, len(CATEGORIES)), dtype=np.float32)
    for cls in imagenet_classes():
        coarse = set(cls.coarse)
        if "animal" in coarse and not coarse & ANIMAL_EXCLUDED:
            matrix[cls.index, 0] = 1.0
        if (coarse & PERSON_COARSE or cls.name in PERSON_ITEMS) and (
            cls.name not in PERSON_EXCLUDED
        ):
            matrix[cls.index, 1] = 1.0
        if "vehicle" in coarse:
            matrix[cls.index, 2] = 1.0
    return matrix


def category_mass(probs: np.ndarray) -> np.ndarray:
    """float32 [N, 3]: each row's ImageNet probability mass on animal, person, vehicle."""
    return (probs.astype(np.float32) @ category_matrix()).astype(np.float32)


@functools.cache
def _carried_vector() -> np.ndarray:
    """float32 [1000]: 1 for the classes in PERSON_CARRIED."""
    vector = np.zeros(1000, dtype=np.float32)
    for cls in imagenet_classes():
        vector[cls.index] = cls.name in PERSON_CARRIED
    return vector


def crop_mass(probs: np.ndarray) -> np.ndarray:
    """float32 [N, 3]: ``category_mass`` of crops classified on their own, with what people carry
    or ride counted toward a person (CARRIED_WEIGHT times its mass; at most 1)."""
    mass = category_mass(probs)
    carried = probs.astype(np.float32) @ _carried_vector()  # [N]
    mass[:, 1] = np.minimum(mass[:, 1] + CARRIED_WEIGHT * carried, 1.0)
    return mass


@functools.cache
def _group_matrix() -> tuple[tuple[tuple[str, str], ...], np.ndarray]:
    """The roll-up groups as (level, name) and float32 [1000, G] class membership."""
    groups = tuple((level, name) for level, names in ROLL_UP_LEVELS for name in names)
    matrix = np.zeros((1000, len(groups)), dtype=np.float32)
    animal = category_matrix()[:, 0]
    for cls in imagenet_classes():
        for g, (_, name) in enumerate(groups):
            if name in cls.coarse and animal[cls.index]:
                matrix[cls.index, g] = 1.0
    return groups, matrix


def roll_up(probs: np.ndarray, min_mass: float) -> tuple[str, str, float]:
    """The most specific taxonomic group holding at least ``min_mass`` of an animal crop's
    ImageNet distribution.

    Args:
        probs: float32 [1000] one crop's (or a mean of crops') class probabilities.
        min_mass: the share of the animal mass a group must hold.

    Returns:
        (level, group, share): level "group", "class" or "animal" ("animal" always qualifies),
        the group's name and its share of the animal mass.
    """
    groups, matrix = _group_matrix()
    mass = probs.astype(np.float32) @ matrix  # [G]
    animal = max(float(probs.astype(np.float32) @ category_matrix()[:, 0]), 1e-9)
    for level, _ in ROLL_UP_LEVELS:
        ranked = [
            (float(mass[g]) / animal, name) for g, (lv, name) in enumerate(groups) if lv == level
        ]
        share, name = max(ranked)
        if share >= min_mass or level == "animal":
            return level, name, min(share, 1.0)
    raise AssertionError("unreachable: the animal level always qualifies")
