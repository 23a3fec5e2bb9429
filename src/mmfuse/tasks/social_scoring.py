"""The fusion model's reading of posts: fused predictions, per-source sentiment, incongruity.

``score_posts`` builds, for a batch of posts, the caption's tokens (``text``, ``lexical``,
``bow``) and the media tokens (``speech`` per transcript segment, ``image`` per image,
``video`` per sampled frame, all in the text space), runs the model once on everything for
the post's predictions and attention shares, then once per other source alone for that
source's sentiment. Text-only batches take the first pass only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mmfuse.fusion.inference import infer
from mmfuse.types import ModalityTokens

# The model's sentiment classes that make the score: p(positive) - p(negative) in [-1, 1].
POSITIVE, NEGATIVE = "positive", "negative"
# Which model modalities each explanation source sums (``<task>_from_<source>``).
SOURCES = {
    "text": ("text", "lexical", "bow"),
    "audio": ("speech",),
    "image": ("image",),
    "video": ("video",),
}
# Output names of tasks whose columns are named otherwise ("irony" is reported as sarcasm).
OUTPUT_NAMES = {"irony": "sarcasm"}


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


def _normalise(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _scatter(tokens: Mapping[str, ModalityTokens], rows: np.ndarray, n: int) -> dict:
    """Tokens computed for ``rows`` of a batch of ``n``, as full-batch tokens (others masked)."""
    full = {}
    for name, part in tokens.items():
        shape = (n, *part.tokens.shape[1:])
        whole = ModalityTokens(
            np.zeros(shape, np.float32), np.zeros(shape[:2], bool), np.zeros(shape[:2], np.float32)
        )
        whole.tokens[rows], whole.mask[rows], whole.times[rows] = part.tokens, part.mask, part.times
        full[name] = whole
    return full


def _media_tokens(media: Sequence, attribute: str, times: str | None, dim: int):
    vectors = [getattr(m, attribute) for m in media]
    stamps = [getattr(m, times) if times else None for m in media]
    if all(v is None for v in vectors):
        return None
    return ModalityTokens.stack(vectors, stamps, dim)


def _sentiment_score(scores: np.ndarray, classes: list[str]) -> np.ndarray:
    return scores[:, classes.index(POSITIVE)] - scores[:, classes.index(NEGATIVE)]


def score_posts(checkpoint, decoded: Sequence, media: Sequence) -> list[PostScores]:
    """The model's reading of each post of a batch (``DecodedMedia`` and ``EncodedMedia``)."""
    model, featurizer = checkpoint.model, checkpoint.featurizer
    n = len(decoded)
    dim = featurizer.text_dim
    captioned = np.flatnonzero([bool(d.text.strip()) for d in decoded])
    caption = {}
    if len(captioned):
        caption = _scatter(
            featurizer.featurize_texts([decoded[i].text for i in captioned]), captioned, n
        )
    sources = {
        "speech": _media_tokens(media, "speech", "speech_times", dim),
        "image": _media_tokens(media, "images", None, dim),
        "video": _media_tokens(media, "frames", "frame_times", dim),
    }
    sources = {k: v for k, v in sources.items() if v is not None}
    fused = infer(model, {**caption, **sources})
    posts = [PostScores() for _ in range(n)]
    _fill_predictions(model, fused, posts)
    _fill_vectors(caption, sources, posts)
    if sources and len(captioned):
        _fill_incongruity(model, featurizer, decoded, media, caption, sources, captioned, posts)
    return posts


def _fill_predictions(model, fused, posts: list[PostScores]) -> None:
    for task in model.tasks:
        scores, classes = fused.scores[task], model.task(task).classes
        best = scores.argmax(axis=1)
        for i, post in enumerate(posts):
            if task == "irony":
                post.columns["sarcasm_prob"] = float(scores[i, classes.index("irony")])
            else:
                post.columns[task] = classes[best[i]]
                post.columns[f"{task}_prob"] = float(scores[i, best[i]])
        if task == "sentiment":
            for post, value in zip(posts, _sentiment_score(scores, classes), strict=True):
                post.columns["sentiment_score"] = float(value)
        name = OUTPUT_NAMES.get(task, task)
        shares = fused.shares[task]
        for source, members in SOURCES.items():
            columns = [model.modalities.index(m) for m in members if m in model.modalities]
            total = shares[:, columns].sum(axis=1) if columns else np.zeros(len(posts))
            for post, value in zip(posts, total, strict=True):
                post.columns[f"{name}_from_{source}"] = float(value)


def _fill_vectors(caption: dict, sources: dict, posts: list[PostScores]) -> None:
    """Each post's text-space vector: the mean of its caption, speech, images and frames."""
    parts = [caption.get("text"), *sources.values()]
    for i, post in enumerate(posts):
        means = [
            _normalise(p.tokens[i][p.mask[i]].mean(axis=0))
            for p in parts
            if p is not None and p.mask[i].any()
        ]
        if means:
            post.vector = _normalise(np.mean(means, axis=0)).astype(np.float32)


def _fill_incongruity(model, featurizer, decoded, media, caption, sources, captioned, posts):
    """Sentiment of the caption and of every other source alone; the strongest opposition."""
    classes = model.task("sentiment").classes
    alone = {"text": _sentiment_score(infer(model, caption).scores["sentiment"], classes)}
    spoken = np.flatnonzero([bool(m.transcript) for m in media])
    if len(spoken):
        transcripts = featurizer.featurize_texts([media[i].transcript for i in spoken])
        scores = infer(model, transcripts).scores["sentiment"]
        alone["audio"] = np.full(len(posts), np.nan)
        alone["audio"][spoken] = _sentiment_score(scores, classes)
    for source in ("image", "video"):
        if source in sources:
            present = sources[source].mask.any(axis=1)
            values = _sentiment_score(
                infer(model, {source: sources[source]}).scores["sentiment"], classes
            )
            alone[source] = np.where(present, values, np.nan)
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
