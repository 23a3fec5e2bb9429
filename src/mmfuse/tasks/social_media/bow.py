"""Bag-of-words features: TF-IDF word and character n-grams with a vocabulary saved as JSON.

Sentence embeddings blur the exact words, hashtags and emoji names that carry emotion and
irony; TF-IDF n-grams keep them (the TweetEval SVM baseline reads such features). They feed
the ``bow`` stack of ``mmfuse.tasks.social_media.stack``. The fitted vocabularies and IDF weights
are saved
without pickle (JSON and safetensors) and reloaded into scikit-learn vectorisers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class BowConfig:
    """How the TF-IDF features are built.

    Attributes:
        word_ngrams: (min, max) word n-gram lengths.
        char_ngrams: (min, max) character n-gram lengths, within word boundaries.
        min_df: n-grams seen in fewer training texts are dropped.
        max_word_features: most word n-grams kept (by frequency); bounds the checkpoint size.
        max_char_features: most character n-grams kept.
    """

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2
    max_word_features: int = 30000
    max_char_features: int = 50000


class TfidfFeatures:
    """Word and character TF-IDF vectorisers (lowercased, sublinear term frequencies)."""

    def __init__(self, config: BowConfig | None = None):
        self.config = config or BowConfig()
        cfg = self.config
        common = {"lowercase": True, "sublinear_tf": True, "min_df": cfg.min_df}
        self.word = TfidfVectorizer(
            ngram_range=cfg.word_ngrams,
            max_features=cfg.max_word_features,
            dtype=np.float32,
            **common,
        )
        self.char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=cfg.char_ngrams,
            max_features=cfg.max_char_features,
            dtype=np.float32,
            **common,
        )

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Learns the vocabularies and IDF weights; float32 [n, n_features] rows of ``texts``."""
        return sparse.hstack(
            [self.word.fit_transform(texts), self.char.fit_transform(texts)], format="csr"
        )

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """float32 [n, n_features] TF-IDF rows (word n-grams, then character n-grams)."""
        return sparse.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-ready config and vocabularies (terms in column order), and the IDF weights."""
        document = {
            "config": {k: getattr(self.config, k) for k in self.config.__dataclass_fields__},
            "word_vocabulary": sorted(self.word.vocabulary_, key=self.word.vocabulary_.get),
            "char_vocabulary": sorted(self.char.vocabulary_, key=self.char.vocabulary_.get),
        }
        tensors = {
            "word_idf": self.word.idf_.astype(np.float32),
            "char_idf": self.char.idf_.astype(np.float32),
        }
        return document, tensors

    @classmethod
    def from_state(cls, document: dict, tensors: dict[str, np.ndarray]) -> TfidfFeatures:
        """The fitted features ``state`` described."""
        config = BowConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in document["config"].items()}
        )
        features = cls(config)
        for vectorizer, key in ((features.word, "word"), (features.char, "char")):
            terms = document[f"{key}_vocabulary"]
            vectorizer.set_params(vocabulary={t: i for i, t in enumerate(terms)})
            vectorizer.idf_ = tensors[f"{key}_idf"].astype(np.float32)
        return features
