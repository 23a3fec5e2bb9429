"""Lexical feature vectors: VADER and emoji sentiment, social signals, scaling."""

from __future__ import annotations

import numpy as np
import pytest

from mmfuse.tasks.social_media.features import (
    COUNT_REFERENCES,
    LEXICAL_FEATURE_NAMES,
    lexical_features,
    negation_count,
)


def features_of(text: str) -> dict[str, float]:
    row = lexical_features([text])[0]
    return {name: float(v) for name, v in zip(LEXICAL_FEATURE_NAMES, row, strict=True)}


def test_one_named_float32_row_per_text():
    matrix = lexical_features(["good", "", "bad news!!"])
    assert matrix.shape == (3, len(LEXICAL_FEATURE_NAMES))
    assert matrix.dtype == np.float32
    assert len(set(LEXICAL_FEATURE_NAMES)) == len(LEXICAL_FEATURE_NAMES)
    assert not matrix[1].any()  # an empty post has no sentiment and no signals
    assert lexical_features([]).shape == (0, len(LEXICAL_FEATURE_NAMES))


def test_vader_sign_follows_clear_sentiment():
    positive = features_of("I absolutely love this, what a wonderful day!")
    negative = features_of("This is awful. I hate it and I feel terrible.")
    assert positive["vader_compound"] > 0.5 and positive["vader_pos"] > positive["vader_neg"]
    assert negative["vader_compound"] < -0.5 and negative["vader_neg"] > negative["vader_pos"]


def test_vader_reads_the_raw_post_with_negation_caps_and_exclamations():
    plain = features_of("The food is good.")
    assert features_of("The food is not good.")["vader_compound"] < 0
    assert features_of("The food is GOOD!!!")["vader_compound"] > plain["vader_compound"]


def test_emoji_sentiment_uses_the_emoji_names():
    assert features_of("ok 😍")["emoji_sentiment"] > 0
    assert features_of("ok 😡")["emoji_sentiment"] < 0  # VADER's own emoji table says 0
    assert features_of("ok")["emoji_sentiment"] == 0


def test_negations_are_counted_in_all_spellings():
    assert negation_count("I don't know, I never did and dont care. Isn\u2019t it?") == 4
    assert negation_count("Nothing to see") == 1


def test_counts_are_log_scaled_to_one_at_their_reference():
    row = features_of("wow" + "!" * COUNT_REFERENCES["exclamations"])
    assert row["exclamations"] == pytest.approx(1.0)
    assert features_of("HELLO WORLD")["caps_ratio"] == pytest.approx(1.0)
    assert 0 < features_of("hi @a @b")["mentions"] < 1


@pytest.mark.integration
def test_vader_compound_tracks_human_ratings_of_tweets(shared_data):
    """Hutto & Gilbert report r = 0.881 with the mean human rating on this tweet set."""
    rows = (
        (shared_data / "text/vader_groundtruth/tweets_GroundTruth.txt")
        .read_text(encoding="utf-8", errors="replace")
        .splitlines()[:1000]
    )
    parts = [r.split("\t", 2) for r in rows]
    human = np.array([float(p[1]) for p in parts])
    matrix = lexical_features([p[2] for p in parts])
    compound = matrix[:, LEXICAL_FEATURE_NAMES.index("vader_compound")]
    assert np.corrcoef(compound, human)[0, 1] > 0.8
    assert np.isfinite(matrix).all() and matrix.min() >= -1 and matrix.max() < 3
