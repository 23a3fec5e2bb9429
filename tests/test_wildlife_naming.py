"""Wildlife naming: names only from the user's list, crops and whole picture together, a name
that wins everywhere corrected by the survey, few-shot that knows what it has not seen."""

from __future__ import annotations

import numpy as np
import pytest

from mmfuse.encoders.conse import imagenet_classes
from mmfuse.tasks.wildlife.locate import Detection
from mmfuse.tasks.wildlife.naming import (
    Namer,
    adjust,
    geometric_mean,
    partial_few_shot,
    survey_prior,
)
from mmfuse.tasks.wildlife.species import Group, Species, parse_groups, parse_species

LIST = "leopard cat\nocelot\nmoonrat\n# group cats: leopard cat, ocelot\n# a plain comment: x\n"


def test_group_lines_define_levels_above_the_listed_species():
    species = parse_species(LIST)
    assert [s.name for s in species] == ["leopard cat", "ocelot", "moonrat"]
    assert parse_groups(LIST, species) == [Group("cats", ("leopard cat", "ocelot"))]
    with pytest.raises(ValueError, match="not in the list"):
        parse_groups("ocelot\n# group cats: ocelot, lion\n", parse_species("ocelot"))
    with pytest.raises(ValueError, match="already a species"):
        parse_groups("ocelot\nlion\n# group ocelot: lion\n", parse_species("ocelot\nlion"))


def _namer(rollup: bool, species_text: str = LIST) -> Namer:
    species = parse_species(species_text)
    return Namer(None, species, 0.5, groups=parse_groups(species_text, species), rollup=rollup)


def test_an_unsure_name_stays_a_listed_name_with_a_note_and_rolls_up_only_when_asked():
    unsure = np.array([0.40, 0.35, 0.25], np.float32)
    plain = _namer(rollup=False).name(unsure)
    assert (plain.species, plain.level, plain.score) == ("leopard cat", "species", 0.4)
    assert "low species score 0.40" in plain.note
    rolled = _namer(rollup=True).name(unsure)
    assert (rolled.species, rolled.level, rolled.score) == ("cats", "group", 0.75)
    assert rolled.top.startswith("leopard cat 0.40")
    sure = _namer(rollup=True).name(np.array([0.1, 0.8, 0.1], np.float32))
    assert (sure.species, sure.level, sure.note) == ("ocelot", "species", "")
    # without a list, ImageNet's classes are the list: WordNet's "cat" only with --rollup
    spread = _probs(tabby=0.3, tiger_cat=0.25, Egyptian_cat=0.25, lynx=0.2)
    assert Namer(None, None, 0.5).name(spread).species == "tabby"
    assert Namer(None, None, 0.5, rollup=True).name(spread).species == "cat"


class _ListEncoder:
    """A stand-in image encoder: a view's score for species s is its ImageNet probability on
    the class named in ``classes[s]`` (a dog photo gives "domestic dog" nothing if the list
    has no dog)."""

    def __init__(self, classes):
        index = {c.name: c.index for c in imagenet_classes()}
        self.columns = [index[c] for c in classes]

    def label_scores(self, feats, labels):
        scores = feats.probs[:, self.columns].astype(np.float64) + 1e-6
        return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


def _probs(**weights) -> np.ndarray:
    probs = np.full(1000, 1e-6, np.float32)
    index = {c.name: c.index for c in imagenet_classes()}
    for name, weight in weights.items():
        probs[index[name.replace("_", " ")]] = weight
    return probs / probs.sum()


def _detection(probs) -> Detection:
    return Detection((0.1, 0.1, 0.2, 0.2), "animal", 0.9, 0, probs, np.ones(4, np.float32), False)


def test_a_file_is_named_from_its_crop_and_its_whole_picture_together():
    species = [Species("tabby cat"), Species("fox squirrel")]
    namer = Namer(_ListEncoder(["tabby", "fox squirrel"]), species, 0.5)
    # the crop is a fragment that looks a little more like a squirrel; the whole picture is
    # clearly the cat: together, the cat
    crop = _detection(_probs(tabby=0.4, fox_squirrel=0.6))
    whole = (_probs(tabby=0.9, fox_squirrel=0.1), np.ones(4, np.float32))
    scores = namer.evidence([crop], whole)
    assert scores.argmax() == 0 and scores.sum() == pytest.approx(1.0)
    assert namer.evidence([crop], None).argmax() == 1  # the crop alone was wrong
    assert namer.evidence([], whole) is None  # no animal, no name
    assert geometric_mean([np.array([0.5, 0.5]), np.array([0.5, 0.5])]) == pytest.approx(0.5)


def test_the_survey_prior_stops_a_name_that_wins_everywhere_but_keeps_a_one_species_survey():
    # "Eastern fox squirrel" gets 0.5 of every file: the classifier's bias; each file's own
    # species comes second with 0.4
    truth = [1, 2, 3] * 6
    biased = np.full((len(truth), 4), 0.1 / 3)
    biased[:, 0] = 0.5
    biased[np.arange(len(truth)), truth] = 0.4
    biased /= biased.sum(axis=1, keepdims=True)
    assert (biased.argmax(axis=1) == 0).all()
    prior = survey_prior(list(biased))
    adjusted = np.stack([adjust(s, prior) for s in biased])
    assert (adjusted.argmax(axis=1) == truth).all()
    assert np.allclose(adjusted.sum(axis=1), 1.0)
    # a burst of one squirrel: the squirrel stays
    squirrels = np.tile([0.9, 0.05, 0.03, 0.02], (14, 1))
    prior = survey_prior(list(squirrels))
    assert all(adjust(s, prior).argmax() == 0 for s in squirrels)
    assert survey_prior([]) is None


def test_few_shot_leaves_species_without_examples_to_zero_shot():
    zero = np.array([[0.2, 0.3, 0.5]], np.float32)
    prototypes = np.array([[1, 0], [0, 1], [0, 0]], np.float32)  # no example of the third
    feature = np.array([[0.0, 1.0]], np.float32)
    few = partial_few_shot(zero, feature, prototypes)
    assert few[0, 2] == pytest.approx(0.5)  # unchanged: nothing is known of it
    assert few[0, 1] > 0.49 and few[0].sum() == pytest.approx(1.0)
