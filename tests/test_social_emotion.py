"""The social pipeline's sentiment and emotion columns: both readings of the sentiment, no
emotion for a post whose sentiment is neutral, no joy for a sarcastic complaint; what a post
describes once its praise words are taken out."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mmfuse.fusion.model import FusionConfig, FusionModel, TaskConfig
from mmfuse.tasks.social_media.scoring import (
    NO_EMOTION,
    Meant,
    PostScores,
    _fill_predictions,
    meant_sentiment,
    without_praise,
)


def _model(*extra: TaskConfig) -> FusionModel:
    return FusionModel(
        FusionConfig(
            modalities={"text": 8},
            tasks=[
                TaskConfig("sentiment", classes=["negative", "neutral", "positive"]),
                TaskConfig("emotion", classes=["anger", "joy", "optimism", "sadness"]),
                *extra,
            ],
            d_model=8,
            n_layers=0,
            n_heads=2,
        )
    )


def test_neutral_sentiment_gets_no_emotion():
    model = _model()
    sentiment = np.array([[0.1, 0.7, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]], np.float32)
    emotion = np.array([[0.1, 0.6, 0.2, 0.1], [0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1]])
    shares = np.ones((3, 1), np.float32)
    fused = SimpleNamespace(
        scores={"sentiment": sentiment, "emotion": emotion.astype(np.float32)},
        shares={"sentiment": shares, "emotion": shares},
    )
    posts = [PostScores() for _ in range(3)]
    _fill_predictions(model, fused, Meant(sentiment, np.zeros(3, bool), [""] * 3), posts)
    assert [p.columns["emotion"] for p in posts] == [NO_EMOTION, "joy", "anger"]
    assert posts[0].columns["emotion_prob"] == np.float32(0.7)
    assert posts[1].columns["emotion_prob"] == np.float32(0.6)


def test_flipped_post_gets_the_emotion_and_sentiment_it_means():
    """Only a post whose meaning departs from its words (``Meant.flipped``) loses its words'
    joy and reads as meant; a sarcastic-sounding post not flipped keeps both of its words'
    readings, and both sentiment columns say which is which."""
    model = _model(TaskConfig("irony", classes=["non_irony", "irony"]))
    literal = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]], np.float32)
    meant = literal.copy()
    meant[0] = [0.7, 0.2, 0.1]
    irony = np.array([[0.1, 0.9], [0.1, 0.9], [0.9, 0.1]], np.float32)
    emotion = np.tile(np.array([0.2, 0.5, 0.2, 0.1], np.float32), (3, 1))
    shares = np.ones((3, 1), np.float32)
    fused = SimpleNamespace(
        scores={"sentiment": literal, "emotion": emotion, "irony": irony},
        shares=dict.fromkeys(("sentiment", "emotion", "irony"), shares),
    )
    posts = [PostScores() for _ in range(3)]
    flipped = Meant(meant, np.array([True, False, False]), ["sarcastic", "", ""])
    _fill_predictions(model, fused, flipped, posts)
    assert [p.columns["sentiment"] for p in posts] == ["negative", "positive", "negative"]
    assert [p.columns["literal_sentiment"] for p in posts] == ["positive"] * 2 + ["negative"]
    assert [p.columns["flip_reason"] for p in posts] == ["sarcastic", "", ""]
    assert posts[0].columns["sentiment_score"] == pytest.approx(0.1 - 0.7)
    assert [p.columns["emotion"] for p in posts] == ["anger", "joy", "joy"]
    assert posts[0].columns["emotion_prob"] == pytest.approx(0.2 / 0.3)
    assert [p.columns["sarcasm_prob"] for p in posts] == [
        np.float32(0.9),
        np.float32(0.9),
        np.float32(0.1),
    ]
    assert fused.scores["sentiment"] is literal  # the model's output is left as it was


def test_without_praise_keeps_what_a_post_describes():
    assert without_praise("Stuck in traffic for three hours. Best commute ever.") == (
        "Stuck in traffic for three hours. commute ever."
    )
    assert without_praise("On hold for two hours. Fantastic. #greatservice 😍") == (
        "On hold for two hours."
    )
    assert without_praise("I love this phone.") == "I this phone."
    assert without_praise("The app keeps crashing 😡") == "The app keeps crashing 😡"


def test_without_praise_drops_the_posts_own_sarcasm_markers():
    """An eye-roll or a "#sarcasm" rates what the post says; read alone, a model takes it for
    content ("face with rolling eyes" reads neutral) and misses what the post describes."""
    assert without_praise("Oh great, another Monday. Just what I needed. 🙄") == (
        "Oh another Monday. Just what I needed."
    )
    assert without_praise("Stuck at the airport again #sarcasm") == "Stuck at the airport again"
    assert (
        without_praise("The update broke my phone. Thanks 😒 #not") == "The update broke my phone."
    )
    assert without_praise("Sure, that fixed everything /s") == "that fixed everything"
    assert without_praise("Took the bus to work 🚌") == "Took the bus to work 🚌"


def _read_sarcastic_praise(monkeypatch, texts: list[str]) -> tuple[Meant, list[str]]:
    """``meant_sentiment`` of posts whose words read positive and sarcastic (0.9), with a
    model that reads every stripped post negative; and the stripped posts it was given."""
    from mmfuse.tasks.social_media import scoring

    model = _model(TaskConfig("irony", classes=["non_irony", "irony"]))
    read = []

    def every_remainder_negative(_model, tokens):
        read.extend(tokens)
        return SimpleNamespace(scores={"sentiment": np.tile([0.8, 0.1, 0.1], (len(tokens), 1))})

    monkeypatch.setattr(scoring, "infer", every_remainder_negative)
    checkpoint = SimpleNamespace(model=model, featurizer=SimpleNamespace(featurize_texts=list))
    scores = {
        "sentiment": np.tile(np.float32([0.1, 0.1, 0.8]), (len(texts), 1)),
        "irony": np.tile(np.float32([0.1, 0.9]), (len(texts), 1)),
    }
    return meant_sentiment(checkpoint, texts, scores), read


def test_praise_with_nothing_else_in_it_is_never_read_against_its_words(monkeypatch):
    """However sarcastic a post may be, and however negative a model reads what its praise
    words leave ("This is", "just"), a post that names nothing bad keeps its words' reading."""
    texts = ["This is great!", "Great, just great.", "On hold for two hours. Fantastic."]
    meant, read = _read_sarcastic_praise(monkeypatch, texts)
    assert meant.flipped.tolist() == [False, False, True]
    assert read == ["On hold for two hours."]
    assert meant.sentiment[:2].argmax(1).tolist() == [2, 2]
    assert meant.reasons[2].startswith("sarcastic (0.90)")


def test_a_post_that_laughs_is_read_as_its_words(monkeypatch):
    """Laughter ("😂", "lol", ":)") says the author is amused, not complaining: a joke about a
    mishap keeps its words' reading, however sarcastic it sounds and however bad its mishap."""
    texts = [
        "My cat knocked my coffee off the table and looked so proud 😂",
        "Love how my dog steals my socks lol",
        "Nice, my flight got cancelled again :)",
        "My cat knocked my coffee off the table. Love that.",
    ]
    meant, read = _read_sarcastic_praise(monkeypatch, texts)
    assert meant.flipped.tolist() == [False, False, False, True]
    assert read == ["My cat knocked my coffee off the table. that."]
