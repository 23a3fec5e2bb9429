"""spaCy terms for matching a CV to a job: lowercase lemmas without stop words or punctuation.

The spaCy pipeline (en_core_web_sm, hash-checked by the registry) is loaded once, on first use,
without its dependency parser and sentence recogniser, which nothing here needs; the PII
redaction (``pii``) drives its NER through the same pipeline. Lemmas need the tagger (the rule
lemmatizer looks at part-of-speech tags), and ``analyze`` runs only the components it needs:
the one tokeniser, stop list and lemmatiser of the screening's matching (``matching``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from mmfuse.registry import resolve

SPACY_MODEL_ID = "spacy:en_core_web_sm"
UNUSED_PIPES = ("parser", "senter")  # loaded nowhere: saves memory and load time
LEMMA_PIPES = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer")
PIPE_BATCH_SIZE = 256  # texts per nlp.pipe batch


@lru_cache(maxsize=1)
def nlp():
    """The spaCy English pipeline, loaded once without the parser and sentence recogniser."""
    import spacy

    return spacy.load(resolve(SPACY_MODEL_ID).source, exclude=list(UNUSED_PIPES))


def _only(pipes: Sequence[str]) -> list[str]:
    """The loaded pipes to disable so that only ``pipes`` run."""
    return [name for name in nlp().pipe_names if name not in pipes]


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
