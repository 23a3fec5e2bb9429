"""Social-media text normalisation that keeps the signal instead of deleting it.

``normalize`` rewrites a post into what a sentence encoder reads well: HTML entities unescaped,
URLs as "http" and user names as "@user" (the TweetEval conventions), emojis kept and followed
by their names ("😂" -> "😂 (face with tears of joy)": BERT vocabularies read most emojis as
[UNK]), hashtags kept and followed by their words ("#BlackLivesMatter" -> "#BlackLivesMatter
(black lives matter)"), letters repeated three or more times cut to two ("soooo" -> "soo"), runs
of "!" / "?" cut to three. ``signals`` counts what the rewrite removed or hid, as features.
With MiniLM embeddings and a logistic regression (5-fold, TweetEval train splits), normalised
posts score above raw ones: irony F1 0.658 vs 0.652, emotion macro-F1 0.690 vs 0.683; emojis
replaced by their names alone scored 0.653 and 0.687.

Hashtags are split at camelCase and digit boundaries; all-lowercase (or all-caps) runs are
segmented into known words by the most probable split, with word probabilities from a Zipf
law over the word ranks of the default text model's WordPiece vocabulary (frequency-ordered;
the approach of Grant Jenks' wordsegment and Derek Anderson's wordninja).
"""

from __future__ import annotations

import html
import math
import re
from functools import lru_cache

import emoji

from mmfuse import registry
from mmfuse.errors import ModelUnavailable

URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Twitter handles: letters, digits and "_", up to 15 characters; not inside e-mail addresses
MENTION_RE = re.compile(r"(?<![\w@])@\w{1,15}\b")
# a hashtag needs a letter ("#1" is a rank, not a tag) and a non-word character before "#"
HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w*[^\W\d_]\w*)")
ELONGATED_RE = re.compile(r"([^\W\d_])\1{2,}")  # a letter repeated three or more times
EXCLAIM_QUESTION_RUN_RE = re.compile(r"[!?]{2,}")
DOTS_RUN_RE = re.compile(r"\.{4,}")
ALLCAPS_WORD_RE = re.compile(r"\b[A-Z]{2,}\b")
WORD_RE = re.compile(r"\b\w+\b")
CAMEL_PIECE_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
SKIN_TONE_RE = re.compile(r"_(?:medium-)?(?:light|medium|dark)_skin_tone|_skin_tone")

# How a post marks itself sarcastic: it rates what it says, it names nothing
# ("Another Monday. Just what I needed 🙄"): face with rolling eyes, unamused, upside-down and
# smirking faces; "#sarcasm", "#not" and the like; Reddit's "/s".
SARCASM_EMOJIS = frozenset("🙄😒🙃😏")
SARCASM_TAGS = frozenset({"sarcasm", "sarcastic", "not", "irony", "ironic"})
SARCASM_TOKEN = "/s"
# Laughter: emojis, "lol", "lmao", "haha", "hehe", smileys. A post that laughs is amused.
LAUGHTER_RE = re.compile(
    r"[😂🤣😄😆😁😅😃😀😹]|\b(?:lo+l|lmf?ao+|rofl|(?:ha){2,}h?|(?:he){2,}h?)\b|[:;]-?(?:\)|D(?!\w))",
    re.IGNORECASE,
)

ELONGATION_KEEP = 2  # "soooo" -> "soo": still marked as stressed, now a known word piece
PUNCTUATION_RUN_KEEP = 3  # "!!!!!!" -> "!!!": still emphatic; the count goes to signals()
# A segmented hashtag is trusted only when its words of up to this many letters are common:
# junk splits of acronyms ("#tcot" -> "tc ot") are made of rare short pieces.
SHORT_WORD_LETTERS = 3
SHORT_WORD_MAX_RANK = 1000
MAX_SEGMENT_LETTERS = 40  # longer lowercase runs are left whole (the search is quadratic)

SIGNAL_NAMES = (
    "emojis",  # emoji count
    "hashtags",
    "mentions",
    "urls",
    "elongated_words",  # words with a letter repeated three or more times
    "repeated_punctuation",  # runs of two or more "!" / "?", or four or more "."
    "exclamations",  # "!" count
    "questions",  # "?" count
    "allcaps_words",  # words of two or more capitals only ("LOVE")
    "caps_ratio",  # capital letters / letters, in [0, 1]
    "chars",  # length in characters
    "words",
)


@lru_cache(maxsize=1)
def _word_ranks() -> dict[str, int]:
    """Known words and their frequency rank (1 = most common) in the text model vocabulary.

    Empty when the default text model is not installed: hashtags are then split at camelCase
    and digit boundaries only.
    """
    spec = registry.SPECS[registry.default_model("text")]
    try:
        lines = (spec.folder() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ModelUnavailable):
        return {}
    ranks: dict[str, int] = {}
    for token in lines:
        word = token.strip()
        known = word.isascii() and word.isalpha() and word.islower()
        if known and (len(word) > 1 or word in ("a", "i")) and word not in ranks:
            ranks[word] = len(ranks) + 1
    return ranks


@lru_cache(maxsize=1)
def _word_costs() -> dict[str, float]:
    """-log p(word) under Zipf's law, p(rank r) = 1 / (r ln N) for N known words."""
    ranks = _word_ranks()
    log_n = math.log(max(len(ranks), 2))
    return {word: math.log(rank * log_n) for word, rank in ranks.items()}


@lru_cache(maxsize=1)
def _longest_word() -> int:
    return max(map(len, _word_ranks()), default=0)


def _segment(run: str) -> list[str]:
    """The most probable split of a lowercase letter run into known words, or [run]."""
    costs = _word_costs()
    if not costs or run in costs or len(run) > MAX_SEGMENT_LETTERS:
        return [run]
    longest = _longest_word()
    best: list[tuple[float, int]] = [(0.0, 0)]  # best[i]: (cost of run[:i], start of last word)
    for end in range(1, len(run) + 1):
        best.append(
            min(
                (best[start][0] + costs.get(run[start:end], math.inf), start)
                for start in range(max(0, end - longest), end)
            )
        )
    if math.isinf(best[-1][0]):
        return [run]
    words, end = [], len(run)
    while end > 0:
        start = best[end][1]
        words.append(run[start:end])
        end = start
    words.reverse()
    ranks = _word_ranks()
    trusted = all(len(w) > SHORT_WORD_LETTERS or ranks[w] <= SHORT_WORD_MAX_RANK for w in words)
    return words if trusted else [run]


def split_hashtag(tag: str) -> list[str]:
    """The lowercase words of a hashtag ("#NotMyPresident" -> ["not", "my", "president"])."""
    words: list[str] = []
    for piece in CAMEL_PIECE_RE.findall(tag.lstrip("#")):
        lower = piece.lower()
        words.extend(_segment(lower) if piece.isalpha() else [lower])
    return words


# Every emoji sequence holds a code point from U+00A9 (©) up; a text without one has no emoji,
# and skips the emoji package's character-by-character scan (most posts).
_EMOJI_CANDIDATE_RE = re.compile(r"[^\x00-\xa8]")


def find_emojis(text: str) -> list[dict]:
    """``emoji.emoji_list(text)``: each emoji with ``emoji``, ``match_start``, ``match_end``."""
    return emoji.emoji_list(text) if _EMOJI_CANDIDATE_RE.search(text) else []


def emoji_name(char: str) -> str:
    """An emoji's English name without skin tone ("👍🏽" -> "thumbs up")."""
    name = emoji.demojize(char).strip(":")
    return SKIN_TONE_RE.sub("", name).replace("_", " ")


def _gloss_emojis(text: str) -> str:
    """Each run of one repeated emoji kept once and followed by its name in parentheses."""
    pieces, last, previous = [], 0, None
    for found in find_emojis(text):
        start, end, char = found["match_start"], found["match_end"], found["emoji"]
        between = text[last:start]
        if char == previous and not between.strip():
            last = end
            continue
        pieces.append(f"{between} {char} ({emoji_name(char)}) ")
        last, previous = end, char
    pieces.append(text[last:])
    return "".join(pieces)


def _gloss_hashtag(match: re.Match) -> str:
    words = split_hashtag(match.group(1))
    if len(words) < 2:
        return match.group(0)
    return f"{match.group(0)} ({' '.join(words)})"


def _clean(text: str) -> str:
    """Entities unescaped, URLs as "http", user names as "@user"."""
    text = html.unescape(text)
    text = URL_RE.sub(" http ", text)
    return MENTION_RE.sub("@user", text)


def normalize(text: str) -> str:
    """The post as a sentence encoder should read it (see the module docstring).

    Example:
        ``normalize("Soooo happy!!!!!! 😂😂 #BestDayEver @bob &amp; me https://t.co/x")`` is
        ``"Soo happy!!! 😂 (face with tears of joy) #BestDayEver (best day ever) @user & me
        http"``.
    """
    text = _clean(text)
    text = HASHTAG_RE.sub(_gloss_hashtag, text)
    text = _gloss_emojis(text)
    text = ELONGATED_RE.sub(lambda m: m.group(1) * ELONGATION_KEEP, text)
    text = EXCLAIM_QUESTION_RUN_RE.sub(lambda m: m.group(0)[:PUNCTUATION_RUN_KEEP], text)
    text = DOTS_RUN_RE.sub("...", text)
    return " ".join(text.split())


def signals(text: str) -> dict[str, float]:
    """Counts and ratios of social-media markers in the raw post, keyed by ``SIGNAL_NAMES``."""
    unescaped = html.unescape(text)
    without_links = URL_RE.sub(" ", unescaped)
    plain = HASHTAG_RE.sub(" ", MENTION_RE.sub(" ", without_links))
    letters = [c for c in plain if c.isalpha()]
    words = WORD_RE.findall(plain)
    return {
        "emojis": float(len(find_emojis(unescaped))),
        "hashtags": float(len(HASHTAG_RE.findall(without_links))),
        "mentions": float(len(MENTION_RE.findall(without_links))),
        "urls": float(len(URL_RE.findall(unescaped))),
        "elongated_words": float(sum(bool(ELONGATED_RE.search(w)) for w in words)),
        "repeated_punctuation": float(
            len(EXCLAIM_QUESTION_RUN_RE.findall(plain)) + len(DOTS_RUN_RE.findall(plain))
        ),
        "exclamations": float(plain.count("!")),
        "questions": float(plain.count("?")),
        "allcaps_words": float(len(ALLCAPS_WORD_RE.findall(plain))),
        "caps_ratio": sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
        "chars": float(len(unescaped)),
        "words": float(len(words)),
    }
