"""Lexical feature vectors of posts: VADER sentiment, emoji sentiment and social-media signals.

These are scalar feature tokens for the fusion model (a prior beside the sentence embedding,
not the final answer). VADER (Hutto & Gilbert, ICWSM 2014) reads the raw post: it scores
emojis, CAPS, "!!!", "but" and negations itself. Emoji sentiment is VADER's valence of each
emoji's current Unicode (CLDR) name ("😡" -> "enraged face"), which covers more emojis than
VADER's own older name list. Counts are log-scaled so that a typical post lies in [0, 1].

Per-text Python, but cheap next to the sentence encoder: on one busy core, VADER scored about
11,000 tweets/s and ``lexical_features`` about 3,000 (``benchmarks/bench_text_throughput.py``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmfuse.nlp import social
from mmfuse.registry import resolve

VADER_MODEL_ID = "vader:vader_lexicon"
# Count columns: name -> the count that maps to 1.0 under log1p(count) / log1p(reference).
# References are generous counts for one tweet (280 characters); larger counts exceed 1 slowly.
COUNT_REFERENCES = {
    "negations": 3,
    "allcaps_words": 5,
    "exclamations": 5,
    "questions": 5,
    "repeated_punctuation": 3,
    "elongated_words": 3,
    "emojis": 5,
    "hashtags": 5,
    "mentions": 5,
    "urls": 2,
    "chars": 280,
    "words": 50,
}
LEXICAL_FEATURE_NAMES = (
    "vader_compound",  # VADER's normalised sum of valences, [-1, 1]
    "vader_pos",  # share of the text that is positive, [0, 1]
    "vader_neu",  # neutral share, [0, 1]
    "vader_neg",  # negative share, [0, 1]
    "emoji_sentiment",  # mean VADER compound of the emojis' names, [-1, 1]; 0 without emojis
    "caps_ratio",  # capital letters / letters, [0, 1]
    *COUNT_REFERENCES,  # log-scaled counts, 0 for none, 1 at the reference count
)
N_LEXICAL_FEATURES = len(LEXICAL_FEATURE_NAMES)
_WORD_RE = re.compile(r"[a-z']+")


@lru_cache(maxsize=1)
def vader_analyzer():
    """VADER's analyzer on the registry's hash-checked lexicon, loaded once."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    folder = Path(resolve(VADER_MODEL_ID).source)
    return SentimentIntensityAnalyzer(lexicon_file=str(folder / "vader_lexicon.txt"))


@lru_cache(maxsize=1)
def _negations() -> frozenset[str]:
    from vaderSentiment.vaderSentiment import NEGATE

    return frozenset(NEGATE)


@lru_cache(maxsize=4096)
def _emoji_valence(char: str) -> float:
    return vader_analyzer().polarity_scores(social.emoji_name(char))["compound"]


def negation_count(text: str) -> int:
    """Negating words ("not", "never", "don't", "dont", ...; VADER's list) and "n't" endings."""
    words = _WORD_RE.findall(text.lower().replace("\u2019", "'"))
    negations = _negations()
    return sum(w in negations or w.endswith("n't") for w in words)


def _row(text: str) -> list[float]:
    scores = vader_analyzer().polarity_scores(text)
    emojis = [e["emoji"] for e in social.find_emojis(text)]
    counts = social.signals(text)
    counts["negations"] = float(negation_count(html.unescape(text)))
    return [
        scores["compound"],
        scores["pos"],
        scores["neu"],
        scores["neg"],
        float(np.mean([_emoji_valence(e) for e in emojis])) if emojis else 0.0,
        counts["caps_ratio"],
        *(counts[name] for name in COUNT_REFERENCES),
    ]


def lexical_features(texts: Sequence[str]) -> np.ndarray:
    """Lexical feature vectors of raw posts (not normalised: VADER wants the original).

    Args:
        texts: N posts.

    Returns:
        float32 [N, len(LEXICAL_FEATURE_NAMES)], columns named by ``LEXICAL_FEATURE_NAMES``:
        scores in [-1, 1] or [0, 1], counts as log1p(count) / log1p(reference).
    """
    raw = np.array([_row(t) for t in texts], dtype=np.float64).reshape(
        len(texts), N_LEXICAL_FEATURES
    )
    first_count = len(LEXICAL_FEATURE_NAMES) - len(COUNT_REFERENCES)
    scale = np.log1p(np.array(list(COUNT_REFERENCES.values()), dtype=np.float64))
    raw[:, first_count:] = np.log1p(raw[:, first_count:]) / scale
    return raw.astype(np.float32)


def feature_dict(row: np.ndarray) -> dict[str, float]:
    """One row of ``lexical_features`` as {column name: value}."""
    return {name: float(v) for name, v in zip(LEXICAL_FEATURE_NAMES, row, strict=True)}
