"""Classic NLP preprocessing with spaCy: tokens, stop words, lemmas, bag-of-words, TF-IDF, NER.

The spaCy pipeline (en_core_web_sm, hash-checked by the registry) is loaded once, on first use,
without its dependency parser and sentence recogniser, which nothing here needs. Lemmas need
the tagger (the rule lemmatizer looks at part-of-speech tags), entities need the NER component,
and each call runs only the components it needs.

``TextVectorizer`` wraps scikit-learn's count and TF-IDF vectorizers around spaCy lemmas; a
fitted vocabulary (and its IDF weights) is saved as plain JSON, never pickled, and reloads to
identical matrices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import sparse

from mmfuse.registry import resolve

SPACY_MODEL_ID = "spacy:en_core_web_sm"
UNUSED_PIPES = ("parser", "senter")  # loaded nowhere: saves memory and load time
LEMMA_PIPES = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer")
NER_PIPES = ("ner",)  # en_core_web_sm's NER has its own token-to-vector layer
PIPE_BATCH_SIZE = 256  # texts per nlp.pipe batch
VECTORIZER_FORMAT = 1  # version of the JSON written by TextVectorizer.to_json
VECTORIZER_KINDS = ("bag_of_words", "tfidf")


class Entity(NamedTuple):
    """A named entity: its text, spaCy label (PERSON, ORG, GPE, ...) and character span."""

    text: str
    label: str
    start: int
    end: int


@lru_cache(maxsize=1)
def nlp():
    """The spaCy English pipeline, loaded once without the parser and sentence recogniser."""
    import spacy

    return spacy.load(resolve(SPACY_MODEL_ID).source, exclude=list(UNUSED_PIPES))


def _only(pipes: Sequence[str]) -> list[str]:
    """The loaded pipes to disable so that only ``pipes`` run."""
    return [name for name in nlp().pipe_names if name not in pipes]


def tokenize(text: str) -> list[str]:
    """spaCy's rule-based tokens ("don't" -> ["do", "n't"]), whitespace tokens dropped."""
    return [t.text for t in nlp().tokenizer(text) if not t.is_space]


def is_stop_word(token: str) -> bool:
    """Whether ``token`` is in spaCy's English stop list (case-insensitive)."""
    return token.lower() in nlp().Defaults.stop_words


def remove_stop_words(tokens: Iterable[str]) -> list[str]:
    """``tokens`` without spaCy's English stop words ("the", "is", "n't", ...), order kept."""
    return [t for t in tokens if not is_stop_word(t)]


def lemmatize(text: str) -> list[str]:
    """The lemma of every token ("running dogs" -> ["run", "dog"]), whitespace dropped."""
    doc = nlp()(text, disable=_only(LEMMA_PIPES))
    return [t.lemma_ for t in doc if not t.is_space]


def named_entities(text: str) -> list[Entity]:
    """The named entities spaCy finds in ``text``, in order, with character spans."""
    doc = nlp()(text, disable=_only(NER_PIPES))
    return [Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def analyze(texts: Sequence[str], lemmas: bool = True, stop_words: bool = False) -> list[list[str]]:
    """Lowercase terms of each text for counting: words and numbers, no punctuation or spaces.

    Args:
        texts: N texts, processed in batches.
        lemmas: count lemmas ("dogs" -> "dog") instead of word forms.
        stop_words: keep stop words (dropped by default).
    """
    pipes = LEMMA_PIPES if lemmas else ()
    terms = []
    for doc in nlp().pipe(texts, batch_size=PIPE_BATCH_SIZE, disable=_only(pipes)):
        terms.append(
            [
                (t.lemma_ if lemmas else t.text).lower()
                for t in doc
                if not (t.is_punct or t.is_space or (t.is_stop and not stop_words))
            ]
        )
    return terms


def _pre_analyzed(terms: list[str]) -> list[str]:
    """scikit-learn analyzer for documents that ``analyze`` already turned into terms."""
    return terms


class TextVectorizer:
    """Bag-of-words or TF-IDF document-term matrices over spaCy terms, saved as JSON.

    Args:
        kind: "bag_of_words" (counts) or "tfidf" (scikit-learn's smoothed IDF, L2 rows).
        lemmas: count lemmas rather than word forms.
        stop_words: keep stop words.
        min_df: ignore terms in fewer documents than this when fitting.
        max_features: keep only this many most frequent terms (all when None).
    """

    def __init__(
        self,
        kind: str = "tfidf",
        lemmas: bool = True,
        stop_words: bool = False,
        min_df: int = 1,
        max_features: int | None = None,
    ):
        if kind not in VECTORIZER_KINDS:
            raise ValueError(f"kind must be one of {VECTORIZER_KINDS}, got '{kind}'")
        self.options = {
            "kind": kind,
            "lemmas": lemmas,
            "stop_words": stop_words,
            "min_df": min_df,
            "max_features": max_features,
        }
        self._vectorizer = self._make(vocabulary=None)

    def _make(self, vocabulary: dict[str, int] | None):
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

        make = TfidfVectorizer if self.options["kind"] == "tfidf" else CountVectorizer
        return make(
            analyzer=_pre_analyzed,
            lowercase=False,
            min_df=self.options["min_df"],
            max_features=self.options["max_features"],
            vocabulary=vocabulary,
        )

    def _terms(self, texts: Sequence[str]) -> list[list[str]]:
        return analyze(texts, self.options["lemmas"], self.options["stop_words"])

    def fit(self, texts: Sequence[str]) -> TextVectorizer:
        """Learns the vocabulary (and IDF weights) from ``texts``."""
        self._vectorizer.fit(self._terms(texts))
        return self

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """``fit`` then ``transform`` on the same texts, analysing them once."""
        return self._vectorizer.fit_transform(self._terms(texts)).tocsr()

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """float64 (tfidf) or int64 (counts) [N, vocabulary size]; unknown terms are ignored."""
        return self._vectorizer.transform(self._terms(texts)).tocsr()

    @property
    def vocabulary(self) -> list[str]:
        """The terms, in column order."""
        return list(self._vectorizer.get_feature_names_out())

    def to_json(self) -> str:
        """The fitted vectorizer as JSON: options, vocabulary in column order, IDF weights."""
        state = {
            "format": VECTORIZER_FORMAT,
            "options": self.options,
            "vocabulary": self.vocabulary,
        }
        if self.options["kind"] == "tfidf":
            state["idf"] = self._vectorizer.idf_.tolist()
        return json.dumps(state, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TextVectorizer:
        """A fitted vectorizer from ``to_json`` output.

        Raises:
            ValueError: not a vectorizer JSON of a format this version reads.
        """
        state = json.loads(text)
        if not isinstance(state, dict) or state.get("format") != VECTORIZER_FORMAT:
            raise ValueError(f"not a TextVectorizer JSON of format {VECTORIZER_FORMAT}")
        loaded = cls(**state["options"])
        terms = state["vocabulary"]
        loaded._vectorizer = loaded._make(vocabulary={t: i for i, t in enumerate(terms)})
        if "idf" in state:
            loaded._vectorizer.idf_ = np.asarray(state["idf"], dtype=np.float64)
        return loaded

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TextVectorizer:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def bag_of_words(texts: Sequence[str], **options) -> tuple[sparse.csr_matrix, TextVectorizer]:
    """Term counts of ``texts`` and the fitted vectorizer (options as ``TextVectorizer``'s)."""
    vectorizer = TextVectorizer("bag_of_words", **options)
    return vectorizer.fit_transform(texts), vectorizer


def tfidf(texts: Sequence[str], **options) -> tuple[sparse.csr_matrix, TextVectorizer]:
    """TF-IDF matrix of ``texts`` and the fitted vectorizer (options as ``TextVectorizer``'s)."""
    vectorizer = TextVectorizer("tfidf", **options)
    return vectorizer.fit_transform(texts), vectorizer
