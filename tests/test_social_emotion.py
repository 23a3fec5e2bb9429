"""The social pipeline's emotion column: no emotion for a post whose sentiment is neutral, and
no joy for a sarcastic complaint."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mmfuse.fusion.model import FusionConfig, FusionModel, TaskConfig
from mmfuse.tasks.social_media.scoring import NO_EMOTION, PostScores, _fill_predictions


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
    _fill_predictions(model, fused, posts)
    assert [p.columns["emotion"] for p in posts] == [NO_EMOTION, "joy", "anger"]
    assert posts[0].columns["emotion_prob"] == np.float32(0.7)
    assert posts[1].columns["emotion_prob"] == np.float32(0.6)


def test_sarcastic_complaint_gets_the_emotion_it_means():
    """Read negative and sarcastic: the literal words' joy gives way to the likeliest other
    emotion. A sincere negative post and a sarcastic positive one keep their joy."""
    model = _model(TaskConfig("irony", classes=["non_irony", "irony"]))
    sentiment = np.array([[0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]], np.float32)
    irony = np.array([[0.1, 0.9], [0.9, 0.1], [0.1, 0.9]], np.float32)
    emotion = np.tile(np.array([0.2, 0.5, 0.2, 0.1], np.float32), (3, 1))
    shares = np.ones((3, 1), np.float32)
    fused = SimpleNamespace(
        scores={"sentiment": sentiment, "emotion": emotion, "irony": irony},
        shares=dict.fromkeys(("sentiment", "emotion", "irony"), shares),
    )
    posts = [PostScores() for _ in range(3)]
    _fill_predictions(model, fused, posts)
    assert [p.columns["emotion"] for p in posts] == ["anger", "joy", "joy"]
    assert posts[0].columns["emotion_prob"] == pytest.approx(0.2 / 0.3)
    assert [p.columns["sarcasm_prob"] for p in posts] == [
        np.float32(0.9),
        np.float32(0.1),
        np.float32(0.9),
    ]
