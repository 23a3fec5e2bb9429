"""TF-IDF bag-of-words features: the word-by-word character counts equal scikit-learn's."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mmfuse.tasks.social_media.bow import BowConfig, TfidfFeatures

# Varied posts: repeated words, case, punctuation, tabs and newlines, runs of spaces, emojis,
# accents, non-Latin scripts, a dotted capital I (two characters once lowercased), an empty
# text and one of spaces only.
TEXTS = [
    "LOVE love Love this!!! so so good",
    "waiting\ton hold\nfor  two   hours...  fantastic",
    "@user #BestDayEver http://t.co/x 😂😂 (face with tears of joy)",
    "Ça coûte très cher, déçu 😡",
    "İstanbul'da hava güzel",
    "Это был отличный день",
    "我们今天去公园玩了",
    "",
    "   ",
    "a b c d e f g",
    "refund refund refund? still no refund from the refund desk",
]


def _fitted(config: BowConfig | None = None) -> TfidfFeatures:
    features = TfidfFeatures(config or BowConfig(min_df=1))
    features.fit_transform(TEXTS * 2 + ["the service was slow", "great price, fast delivery"])
    return features


def _same(a, b) -> None:
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)  # bit for bit, not approximately


def test_character_rows_equal_scikit_learns_bit_for_bit():
    features = _fitted()
    unseen = [*TEXTS, "a post never seen: unheard-of words, SHOUTING, and 🙃 too"]
    for _ in range(2):  # the second time from the word memo
        _same(features._char_rows(unseen), features.char.transform(unseen))


def test_rows_survive_saving_and_loading():
    features = _fitted()
    loaded = TfidfFeatures.from_state(*features.state())
    _same(loaded.transform(TEXTS), features.transform(TEXTS))
    reference = features.char.transform(TEXTS)
    _same(loaded.transform(TEXTS)[:, len(features.word.vocabulary_) :], reference)


def test_shipped_checkpoint_rows_equal_scikit_learns(shared_data):
    from mmfuse.fusion.model import checkpoint_folder
    from mmfuse.tasks.social_media.stack import TextStacks

    path = shared_data / "text/tweeteval/sentiment/val_text.txt"
    if not path.is_file():
        pytest.skip("TweetEval not under the shared data")
    texts = path.read_text(encoding="utf-8").splitlines()[:500]
    tfidf = TextStacks.load(checkpoint_folder("mmfuse-base")).tfidf
    _same(tfidf._char_rows(texts), tfidf.char.transform(texts))


def test_lowercasing_neither_makes_nor_removes_whitespace():
    """What counting word by word relies on: splitting then lowercasing each word gives the
    words of the lowercased text."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        lowered = char.lower()
        assert char.isspace() == (lowered.isspace() and len(lowered) == 1)
        assert char.isspace() or not any(c.isspace() for c in lowered)
