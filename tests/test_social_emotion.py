"""The social pipeline's emotion column: no emotion for a post whose sentiment is neutral."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mmfuse.fusion.model import FusionConfig, FusionModel, TaskConfig
from mmfuse.tasks.social_scoring import NO_EMOTION, PostScores, _fill_predictions


def test_neutral_sentiment_gets_no_emotion():
    model = FusionModel(
        FusionConfig(
            modalities={"text": 8},
            tasks=[
                TaskConfig("sentiment", classes=["negative", "neutral", "positive"]),
                TaskConfig("emotion", classes=["anger", "joy", "optimism", "sadness"]),
            ],
            d_model=8,
            n_layers=0,
            n_heads=2,
        )
    )
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
