"""The fusion model's reading of posts: fused predictions, per-source sentiment, incongruity.

``score_posts`` takes, for a batch of posts, the featurizer's tokens: the caption's (``text``,
``lexical``, ``bow``) and the media's (``speech`` per transcript segment, ``image`` per image,
``video`` per sampled frame, all in the text space), runs the model once on everything for
the post's predictions and attention shares, then once per other source alone for that
source's sentiment. Text-only batches take the first pass only.

Two readings of the sentiment: ``literal_sentiment``, what the words say (the model's
sentiment head, trained on literal labels), and ``sentiment``, as the author meant it. The
second departs from the first only on evidence (``meant_sentiment``): the post may be
sarcastic (``sarcasm_prob`` at least ``FLIP_SARCASM``) *and* it describes something bad (read
without its praise words and sarcasm markers, ``without_praise``, it still names something,
``names_something``, and reads negative) *and* it does not laugh (a joke about a mishap is
not a complaint); ``flip_reason`` says so.
The emotion follows the same rule (``intended_emotions``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mmfuse.encoders.conse import normalise
from mmfuse.fusion.inference import infer
from mmfuse.nlp.social import (
    HASHTAG_RE,
    LAUGHTER_RE,
    SARCASM_EMOJIS,
    SARCASM_TAGS,
    SARCASM_TOKEN,
    emoji_name,
    find_emojis,
    split_hashtag,
)

# The sarcasm a flip needs. ``sarcasm_prob`` is calibrated so that at most 5 % of sincere
# posts reach the 0.5 that flags a post sarcastic; a flip also needs the second piece of
# evidence (praise words about something bad), so it may start lower. Measured on data never
# trained on (mmfuse-base v3, 2026-12-04; flip at 0.5 -> 0.3): iSarcasmEval's held-out
# sarcastic tweets given their rephrase's sentiment 64.2 -> 68.2 %; TweetEval validation
# macro-recall 68.1 -> 68.3 (0.4 % of tweets flipped); held-back SemEval 65.1 -> 65.5;
# VADER's held-back positive snippets read negative 13.0 -> 14.0 %. At 0.2 the praise
# sentences of the plain suite start to flip.
FLIP_SARCASM = 0.3

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
# Words of a post (``without_praise``) and the punctuation around a word.
_TOKEN_RE = re.compile(r"\S+")
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_WORD_EDGES = "\"'.,!?;:()[]{}…*~-_\u201c\u201d\u2018\u2019"


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


def without_praise(text: str) -> str:
    """The post without its praise words: what it describes, stripped of how it rates it.

    A word is praise when VADER's lexicon gives it a positive valence, a hashtag when one of
    its words is, an emoji when its name reads positive. The post's own sarcasm markers (🙄,
    "#sarcasm", "/s") go too: they rate, they name nothing. "Stuck in traffic for three
    hours. Best commute ever." -> "Stuck in traffic for three hours. commute ever."
    """
    from mmfuse.tasks.social_media.features import vader_analyzer

    analyzer = vader_analyzer()

    def praise(word: str) -> bool:
        return analyzer.lexicon.get(word.lower().strip(_WORD_EDGES), 0.0) > 0

    def rates(emoji: str) -> bool:
        return (
            emoji in SARCASM_EMOJIS or analyzer.polarity_scores(emoji_name(emoji))["compound"] > 0
        )

    kept = []
    for token in _TOKEN_RE.findall(text):
        bare = token.rstrip(_WORD_EDGES)
        tag = HASHTAG_RE.fullmatch(bare)
        if praise(token) or bare == SARCASM_TOKEN:
            continue
        if tag and (
            tag.group(1).lower() in SARCASM_TAGS or any(map(praise, split_hashtag(tag.group(1))))
        ):
            continue
        for found in reversed(find_emojis(token)):
            if rates(found["emoji"]):
                token = token[: found["match_start"]] + token[found["match_end"] :]
        if token.strip():
            kept.append(token)
    return " ".join(kept)


def names_something(text: str) -> bool:
    """Whether a text has a word that is not an English stop word (spaCy's list).

    What is left of "This is great!" without its praise words, "This is", names nothing, so
    it cannot describe something bad, however negative a model reads two function words.
    """
    from spacy.lang.en.stop_words import STOP_WORDS

    return any(word.lower() not in STOP_WORDS for word in _LETTERS_RE.findall(text))


@dataclass
class Meant:
    """The sentiment as meant (``meant_sentiment``).

    Attributes:
        sentiment: float [n, classes] probabilities as meant: the literal ones, or for a
            flipped post the reading of what it describes (``without_praise``).
        flipped: bool [n], where the meaning departs from the words.
        reasons: per post, why ("" where not flipped).
    """

    sentiment: np.ndarray
    flipped: np.ndarray
    reasons: list[str]


def meant_sentiment(checkpoint, texts: Sequence[str], scores: dict[str, np.ndarray]) -> Meant:
    """The sentiment each post means, from the model's literal reading of its words.

    It departs from the literal reading only on evidence: the post may be sarcastic (irony
    probability at least ``FLIP_SARCASM``), its words do not already read negative, it does
    not laugh (``LAUGHTER_RE``: "😂", "lol", ":)"; the author is amused), and without its
    praise words and sarcasm markers it still names something and reads negative (it
    describes something bad: a delay, a breakage, a wait). Sincere praise, however sarcastic
    it sounds, keeps its words' reading, and so does praise with nothing else in it ("Great,
    just great.").
    A model without sentiment and irony tasks keeps the literal reading.

    Args:
        checkpoint: the model and featurizer (reads the stripped posts, a few per cent).
        texts: the posts' captions ("" for none).
        scores: task -> probabilities of the posts (``infer(...).scores``).
    """
    model = checkpoint.model
    literal = scores["sentiment"]
    meant = Meant(literal.copy(), np.zeros(len(literal), bool), [""] * len(literal))
    if "irony" not in model.tasks or NEGATIVE not in model.task("sentiment").classes:
        return meant
    classes = model.task("sentiment").classes
    negative = classes.index(NEGATIVE)
    irony = scores["irony"][:, model.task("irony").classes.index("irony")]
    stripped = {
        i: without_praise(text)
        for i, text in enumerate(texts)
        if irony[i] >= FLIP_SARCASM
        and literal[i].argmax() != negative
        and text.strip()
        and not LAUGHTER_RE.search(text)
    }
    rows = [i for i, text in stripped.items() if names_something(text)]
    if not rows:
        return meant
    tokens = checkpoint.featurizer.featurize_texts([stripped[i] for i in rows])
    plain = infer(model, tokens).scores["sentiment"]
    for i, reading in zip(rows, plain, strict=True):
        if reading.argmax() == negative:
            meant.sentiment[i] = reading
            meant.flipped[i] = True
            meant.reasons[i] = (
                f"sarcastic ({irony[i]:.2f}): {classes[literal[i].argmax()]} words about "
                "something bad"
            )
    return meant


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
    meant = None
    if "sentiment" in model.tasks:
        meant = meant_sentiment(checkpoint, [d.text for d in decoded], fused.scores)
    _fill_predictions(model, fused, meant, posts)
    _fill_vectors(caption, sources, posts)
    if sources and len(captioned):
        _fill_incongruity(model, featurizer, media, caption, sources, captioned, posts)
    return posts


def _fill_predictions(model, fused, meant: Meant | None, posts: list[PostScores]) -> None:
    if meant is not None:
        literal = fused.scores["sentiment"].argmax(axis=1)
        fused = copy.copy(fused)  # the sentiment as meant from here on
        fused.scores = {**fused.scores, "sentiment": meant.sentiment}
        for post, value in zip(posts, sentiment_scores(model, fused), strict=True):
            post.columns["sentiment_score"] = float(value)
        for post, best, reason in zip(posts, literal, meant.reasons, strict=True):
            post.columns["literal_sentiment"] = model.task("sentiment").classes[best]
            post.columns["flip_reason"] = reason
    for task in model.tasks:
        config, scores = model.task(task), fused.scores[task]
        if config.kind == "regression":
            for post, value in zip(posts, scores, strict=True):
                post.columns[task] = float(value)
            continue
        if task == "emotion" and meant is not None:
            scores = intended_emotions(model, scores, meant.flipped)
        best = scores.argmax(axis=1)
        for i, post in enumerate(posts):
            if task == "irony":
                post.columns["sarcasm_prob"] = float(scores[i, config.classes.index("irony")])
            else:
                post.columns[task] = config.classes[best[i]]
                post.columns[f"{task}_prob"] = float(scores[i, best[i]])
        if task == "emotion" and meant is not None:
            _no_emotion_when_neutral(model, fused, posts)
        name, shares = OUTPUT_NAMES.get(task, task), fused.shares[task]
        for source in SOURCES:
            members = list(model.config.modalities) if source == "text" else [MEDIA_SOURCES[source]]
            columns = [model.modalities.index(m) for m in members if m in model.modalities]
            total = shares[:, columns].sum(axis=1) if columns else np.zeros(len(posts))
            for post, value in zip(posts, total, strict=True):
                post.columns[f"{name}_from_{source}"] = float(value)


def intended_emotions(model, emotion: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """float [n, classes] emotion probabilities as meant: where the sentiment as meant departs
    from the words (``flipped``, ``meant_sentiment``), the positive emotions
    (``POSITIVE_EMOTIONS``) are taken out and the others renormalised to sum to 1, so a
    sarcastic complaint gets the emotion its author meant, as its sentiment does. Unchanged
    elsewhere, and without a non-positive emotion class."""
    classes = model.task("emotion").classes
    positive = [i for i, name in enumerate(classes) if name in POSITIVE_EMOTIONS]
    if not 0 < len(positive) < len(classes):
        return emotion
    rows = np.flatnonzero(flipped)
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
