"""The fusion model's reading of posts: fused predictions, per-source sentiment, incongruity.

``score_posts`` takes, for a batch of posts, the featurizer's tokens: the caption's (``text``,
``lexical``, ``bow``) and the media's (``speech`` per transcript segment, ``image`` per image,
``video`` per sampled frame, all in the text space), runs the model once on everything for
the post's predictions and attention shares, then once per other source alone for that
source's sentiment. Text-only batches take the first pass only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mmfuse.encoders.conse import normalise
from mmfuse.fusion.inference import infer
from mmfuse.tasks.social_media.summary import SARCASM_THRESHOLD

# The sentiment score in [-1, 1] is p(positive) - p(negative) of the sentiment as meant, so
# it agrees with ``sentiment`` (a sarcastic complaint scores below 0). A model's valence
# regression (mmfuse-base learns it from VADER's human ratings of the words, a literal
# reading) is its own column.
VALENCE = "valence"
POSITIVE, NEGATIVE = "positive", "negative"
# The media sources and the modalities (aliases of the text modality) that carry them; every
# other modality of the model is made from the post's text. ``<task>_from_<source>`` columns.
MEDIA_SOURCES = {"audio": "speech", "image": "image", "video": "video"}
SOURCES = ("text", *MEDIA_SOURCES)
# Output names of tasks whose columns are named otherwise ("irony" is reported as sarcasm).
OUTPUT_NAMES = {"irony": "sarcasm"}
# The emotion of a post whose sentiment reads neutral: its emotion classes (TweetEval's anger,
# joy, optimism, sadness) all assume a feeling, so a factual post gets none of them.
NO_EMOTION = "neutral"
# Emotion classes that only a positive reading carries. A sarcastic post whose intended
# sentiment is negative ("on hold for two hours. Fantastic.") keeps its literal words' joy in
# an emotion head trained on literal labels; it gets its likeliest other emotion instead.
POSITIVE_EMOTIONS = frozenset({"joy", "optimism", "love", "trust"})


@dataclass
class PostScores:
    """The model's reading of one post.

    Attributes:
        columns: output cells: ``sentiment``, ``sentiment_prob``, ``sentiment_score``,
            ``sarcasm_prob``, ``emotion``, ``emotion_prob``, ``<task>``/``<task>_prob`` for other
            tasks, ``<name>_from_<source>`` attention shares.
        vector: float32 [384] the post in the text space (caption, speech, images, frames), for
            topics; None when the post has nothing to read.
        incongruity: how strongly the caption's sentiment score and the most opposed other
            source's point in opposite directions, ``max(0, -caption * other)`` in [0, 1]; None
            without a caption and another source.
        incongruity_source: that source ("audio", "image", "video"); "" when none opposes.
    """

    columns: dict = field(default_factory=dict)
    vector: np.ndarray | None = None
    incongruity: float | None = None
    incongruity_source: str = ""


def add_media_aliases(model, target: str = "text") -> None:
    """Lets ``model`` read speech, image and video tokens through its text projection."""
    for alias in MEDIA_SOURCES.values():
        if alias not in model.modalities:
            model.add_alias(alias, target)


def sentiment_scores(model, predictions) -> np.ndarray:
    """float [n] sentiment score per item of ``infer`` output: p(positive) - p(negative)."""
    probs, classes = predictions.scores["sentiment"], model.task("sentiment").classes
    return probs[:, classes.index(POSITIVE)] - probs[:, classes.index(NEGATIVE)]


def score_posts(checkpoint, decoded: Sequence, media: Sequence) -> list[PostScores]:
    """The model's reading of each post of a batch (``Decoded`` and ``EncodedMedia``).

    The checkpoint's featurizer makes every token (its config names the speech and image
    models), and the model must read the media sources (``add_media_aliases``).
    """
    model, featurizer = checkpoint.model, checkpoint.featurizer
    tokens = featurizer.featurize(decoded, media=media)
    media_names = set(MEDIA_SOURCES.values())
    caption = {k: v for k, v in tokens.items() if k not in media_names}
    sources = {k: v for k, v in tokens.items() if k in media_names and v.mask.any()}
    captioned = np.flatnonzero([bool(d.text.strip()) for d in decoded])
    fused = infer(model, {**caption, **sources})
    posts = [PostScores() for _ in range(len(decoded))]
    _fill_predictions(model, fused, posts)
    _fill_vectors(caption, sources, posts)
    if sources and len(captioned):
        _fill_incongruity(model, featurizer, media, caption, sources, captioned, posts)
    return posts


def _fill_predictions(model, fused, posts: list[PostScores]) -> None:
    if "sentiment" in model.tasks:
        for post, value in zip(posts, sentiment_scores(model, fused), strict=True):
            post.columns["sentiment_score"] = float(value)
    for task in model.tasks:
        config, scores = model.task(task), fused.scores[task]
        if config.kind == "regression":
            for post, value in zip(posts, scores, strict=True):
                post.columns[task] = float(value)
            continue
        if task == "emotion":
            scores = intended_emotions(model, fused.scores)
        best = scores.argmax(axis=1)
        for i, post in enumerate(posts):
            if task == "irony":
                post.columns["sarcasm_prob"] = float(scores[i, config.classes.index("irony")])
            else:
                post.columns[task] = config.classes[best[i]]
                post.columns[f"{task}_prob"] = float(scores[i, best[i]])
        if task == "emotion" and "sentiment" in model.tasks:
            _no_emotion_when_neutral(model, fused, posts)
        name, shares = OUTPUT_NAMES.get(task, task), fused.shares[task]
        for source in SOURCES:
            members = list(model.config.modalities) if source == "text" else [MEDIA_SOURCES[source]]
            columns = [model.modalities.index(m) for m in members if m in model.modalities]
            total = shares[:, columns].sum(axis=1) if columns else np.zeros(len(posts))
            for post, value in zip(posts, total, strict=True):
                post.columns[f"{name}_from_{source}"] = float(value)


def intended_emotions(model, scores: dict[str, np.ndarray]) -> np.ndarray:
    """float [n, classes] emotion probabilities, the positive emotions (``POSITIVE_EMOTIONS``)
    taken out where the post reads sarcastic (irony >= ``SARCASM_THRESHOLD``, as the summary
    counts sarcastic posts) and its sentiment
    negative: the emotion its author meant, as its sentiment is; the other emotions' shares
    are renormalised to sum to 1. Unchanged without the three tasks or without a
    non-positive emotion class."""
    emotion = scores["emotion"]
    if not {"sentiment", "irony"} <= set(model.tasks):
        return emotion
    classes = model.task("emotion").classes
    positive = [i for i, name in enumerate(classes) if name in POSITIVE_EMOTIONS]
    sentiments, ironies = model.task("sentiment").classes, model.task("irony").classes
    if not 0 < len(positive) < len(classes) or NEGATIVE not in sentiments or "irony" not in ironies:
        return emotion
    negative = scores["sentiment"].argmax(axis=1) == sentiments.index(NEGATIVE)
    sarcastic = scores["irony"][:, ironies.index("irony")] >= SARCASM_THRESHOLD
    rows = np.flatnonzero(negative & sarcastic)
    meant = emotion.copy()
    meant[np.ix_(rows, positive)] = 0.0
    meant[rows] /= np.maximum(meant[rows].sum(axis=1, keepdims=True), 1e-12)
    return meant


def _no_emotion_when_neutral(model, fused, posts: list[PostScores]) -> None:
    """``emotion`` = ``NO_EMOTION`` (with the neutral sentiment's probability) where the
    sentiment reads neutral."""
    classes = model.task("sentiment").classes
    if "neutral" not in classes:
        return
    probs = fused.scores["sentiment"]
    neutral = classes.index("neutral")
    for post, row in zip(posts, probs, strict=True):
        if row.argmax() == neutral:
            post.columns["emotion"] = NO_EMOTION
            post.columns["emotion_prob"] = float(row[neutral])


def _fill_vectors(caption: dict, sources: dict, posts: list[PostScores]) -> None:
    """Each post's text-space vector: the mean of its caption, speech, images and frames."""
    parts = [caption.get("text"), *sources.values()]
    for i, post in enumerate(posts):
        means = [
            normalise(p.tokens[i][p.mask[i]].mean(axis=0))
            for p in parts
            if p is not None and p.mask[i].any()
        ]
        if means:
            post.vector = normalise(np.mean(means, axis=0)).astype(np.float32)


def _fill_incongruity(model, featurizer, media, caption, sources, captioned, posts):
    """Sentiment of the caption and of every other source alone; the strongest opposition."""
    alone = {"text": sentiment_scores(model, infer(model, caption))}
    spoken = np.flatnonzero([bool(m.transcript) for m in media])
    if len(spoken):
        transcripts = featurizer.featurize_texts([media[i].transcript for i in spoken])
        alone["audio"] = np.full(len(posts), np.nan)
        alone["audio"][spoken] = sentiment_scores(model, infer(model, transcripts))
    for source in ("image", "video"):
        tokens = sources.get(MEDIA_SOURCES[source])
        if tokens is not None:
            values = sentiment_scores(model, infer(model, {MEDIA_SOURCES[source]: tokens}))
            alone[source] = np.where(tokens.mask.any(axis=1), values, np.nan)
    has_caption = np.zeros(len(posts), bool)
    has_caption[captioned] = True
    for i, post in enumerate(posts):
        if not has_caption[i]:
            continue
        opposition = {
            source: max(0.0, -float(alone["text"][i] * values[i]))
            for source, values in alone.items()
            if source != "text" and not np.isnan(values[i])
        }
        if opposition:
            strongest = max(opposition, key=opposition.get)
            post.incongruity = opposition[strongest]
            post.incongruity_source = strongest if post.incongruity > 0 else ""
