"""Language identification, so English-only models flag other languages instead of scoring them.

The default sentence encoder (all-MiniLM-L6-v2), the VADER lexicon and the sentiment heads are
English. ``detect_language`` uses langdetect's n-gram profiles (Nakatani Shuyo, 55 languages)
on the post without URLs, user names, hashtags, emojis and digits, which carry no language and
would push short posts towards whichever profile likes "http".

langdetect itself estimates the naive-Bayes posterior by sampling n-grams at random, seven
trials of up to a thousand draws, in pure Python (~2.5 ms a tweet here). ``detect_language``
computes that posterior exactly instead: the sum over all the text's n-grams of the log of
(smoothing + the n-gram's probability in each language), as one numpy row sum (no seed). On
1,500 TweetEval tweets it names the same language as langdetect for all but one, a tweet
langdetect calls Afrikaans and this calls English.

The n-grams are langdetect's own (its ``NGram`` walk), found word by word: the walk starts
afresh at every space, so a word's n-grams depend on the word alone and are looked up once
per word in a process-wide memo; the logs of the table are taken once, at loading. Both
give the same sums, in the same order, as the walk over the whole text (0.09 ms a TweetEval
tweet against 0.29 ms on one core of the development machine).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np
from langdetect import DetectorFactory
from langdetect import detector_factory as langdetect_factory
from langdetect.detector import Detector
from langdetect.utils.ngram import NGram

from mmfuse.nlp.social import HASHTAG_RE, MENTION_RE, URL_RE, find_emojis

UNDETERMINED = "und"  # ISO 639-2 code for "undetermined"
SUPPORTED_LANGUAGES = frozenset({"en"})  # languages the default text models were trained on
# Fewer letters than this (after cleaning) is too little evidence: langdetect guesses wildly
# on "ok lol" or "Hola" alone.
MIN_LETTERS = 10
# ... or fewer words than this: two words ("cmyk elephants") read as Hungarian.
MIN_WORDS = 3
# Below this probability a text in an unsupported language is not flagged (mixed or unclear).
DEFAULT_FLAG_PROBABILITY = 0.8
_NOT_LANGUAGE_RE = re.compile(r"[\d_]+")
# Markup and code carry no language: HTML tags, and words followed by "(" (function calls).
_MARKUP_RE = re.compile(r"<[^<>]*>|\w+\(")


# Words whose n-gram rows are remembered (``_word_rows``); the memo starts over when full.
WORD_MEMO_SIZE = 200_000
_word_memo: dict[tuple[str, bool], list[int]] = {}
_MANY_SPACES_RE = re.compile(" {2,}")
_NOT_SPACE_RE = re.compile("[^ ]+")


class _Normal(dict):
    """Code point -> langdetect's ``NGram.normalize`` of the character, for ``str.translate``
    (computed on first sight)."""

    def __missing__(self, code: int) -> str:
        normal = self[code] = NGram.normalize(chr(code))
        return normal


_NORMAL = _Normal()


_PROFILES_LOCK = threading.Lock()


def _profiles() -> tuple[DetectorFactory, dict[str, int], np.ndarray]:
    """langdetect's loaded profiles and its n-gram -> language table as a matrix, loaded once
    even when the decode threads ask at the same time (each would load its own, 0.7 s).

    Returns:
        The factory, n-gram -> row, and float64 [n_ngrams, n_languages] (about 38 MB): the log
        of (smoothing + the n-gram's probability in each language).
    """
    with _PROFILES_LOCK:
        return _load_profiles()


@lru_cache(maxsize=1)
def _load_profiles() -> tuple[DetectorFactory, dict[str, int], np.ndarray]:
    factory = DetectorFactory()
    factory.load_profile(langdetect_factory.PROFILES_DIRECTORY)
    rows = {ngram: row for row, ngram in enumerate(factory.word_lang_prob_map)}
    smoothing = Detector.ALPHA_DEFAULT / Detector.BASE_FREQ
    return factory, rows, np.log(np.array(list(factory.word_lang_prob_map.values())) + smoothing)


@lru_cache(maxsize=1)
def _max_text_length() -> int:
    return Detector(_profiles()[0]).max_text_length


def _detector_text(cleaned: str) -> str:
    """The text langdetect's ``Detector`` walks after ``append`` and ``cleaning_text``: URLs and
    e-mail addresses out, Vietnamese marks composed, cut to its maximum length, runs of
    spaces as one; Latin letters dropped from mostly non-Latin text."""
    factory = _profiles()[0]
    if not cleaned.isascii():  # langdetect's own per-character passes
        detector = Detector(factory)
        detector.append(cleaned)
        detector.cleaning_text()
        return detector.text
    # what those passes do to ASCII text (no non-Latin letters, so nothing to drop)
    text = Detector.MAIL_RE.sub(" ", Detector.URL_RE.sub(" ", cleaned))
    return _MANY_SPACES_RE.sub(" ", text[: _max_text_length()])


def _word_rows(word: str, spaced: bool) -> list[int]:
    """Rows of ``_profiles``' table for the n-grams langdetect's ``NGram`` walk gives for
    ``word`` (characters none of which it reads as a space) after a space, and for a space
    after it when ``spaced``: every 1- to 3-gram its profiles know, none inside an
    all-capitals word."""
    key = (word, spaced)
    found = _word_memo.get(key)
    if found is not None:
        return found
    rows = _profiles()[1]
    ngram, found = NGram(), []
    for char in word + " " if spaced else word:
        ngram.add_char(char)
        for n in range(1, NGram.N_GRAM + 1):
            gram = ngram.get(n)  # None inside a capitalised word, or before n characters
            if gram in rows:
                found.append(rows[gram])
    if len(_word_memo) >= WORD_MEMO_SIZE:
        _word_memo.clear()
    _word_memo[key] = found
    return found


def _ngram_rows(cleaned: str) -> list[int]:
    """Rows of ``_profiles``' table for the n-grams of ``cleaned`` that langdetect would draw,
    in the order of its walk over the whole text (its ``NGram`` starts afresh after each
    character it reads as a space, so the walk is the walks of the words between them)."""
    text = _detector_text(cleaned)
    found: list[int] = []
    for word in _NOT_SPACE_RE.finditer(text.translate(_NORMAL)):
        found += _word_rows(text[word.start() : word.end()], word.end() < len(text))
    return found


def _language_text(text: str) -> str:
    """The words of ``text`` that tell its language."""
    text = _MARKUP_RE.sub(" ", URL_RE.sub(" ", text))
    text = HASHTAG_RE.sub(" ", MENTION_RE.sub(" ", text))
    for found in reversed(find_emojis(text)):
        text = text[: found["match_start"]] + " " + text[found["match_end"] :]
    return " ".join(_NOT_LANGUAGE_RE.sub(" ", text).split())


def detect_language(text: str) -> tuple[str, float]:
    """The most probable language of ``text``.

    Returns:
        An ISO 639-1 code ("en", "fr"; langdetect's "zh-cn" / "zh-tw" become "zh") and its
        probability in [0, 1]; ``("und", 0.0)`` for texts with fewer than ``MIN_LETTERS``
        letters or ``MIN_WORDS`` words once URLs, user names, hashtags, emojis, markup and
        digits are removed.
    """
    cleaned = _language_text(text)
    words = [w for w in cleaned.split() if any(c.isalpha() for c in w)]
    if sum(c.isalpha() for c in cleaned) < MIN_LETTERS or len(words) < MIN_WORDS:
        return UNDETERMINED, 0.0
    picks = _ngram_rows(cleaned)
    if not picks:  # no usable n-grams (e.g. only symbols)
        return UNDETERMINED, 0.0
    factory, _, log_table = _profiles()
    log_likelihood = log_table[picks].sum(axis=0)
    posterior = np.exp(log_likelihood - log_likelihood.max())
    posterior /= posterior.sum()
    best = int(posterior.argmax())
    return factory.langlist[best].split("-")[0], float(posterior[best])


def is_supported(
    language: str, probability: float, min_probability: float = DEFAULT_FLAG_PROBABILITY
) -> bool:
    """False only when a text is confidently (``min_probability``) not in
    ``SUPPORTED_LANGUAGES``.

    Undetermined texts (too short, emojis only) are not flagged: there is no evidence that the
    English models misread them.
    """
    return (
        language in SUPPORTED_LANGUAGES
        or language == UNDETERMINED
        or (probability < min_probability)
    )
