"""Readers of the development data ``mmfuse-base`` is trained and evaluated on (``DATA/text``).

- ``tweeteval``: a TweetEval split (texts and class names).
- ``semeval_sentiment``: the 50,333 SemEval 2013-2016 Task 4A tweets, the pool TweetEval's
  sentiment splits were drawn from; ``exclude`` drops tweets that are also in another set
  (817 of the 2,000 TweetEval sentiment validation tweets are), compared by ``tweet_key``.
- ``isarcasmeval``: the SemEval-2022 Task 6 training tweets, each with its author's sarcasm
  label and, for the sarcastic ones, the author's plain rephrase; ``held_out`` is the
  fixed held-out fifth every reported iSarcasmEval number is measured on, ``calibration`` a
  further tenth, never trained on, that ``sarcasm_prob`` is calibrated on.
- ``vader_ground_truth``: the 23,699 human-rated VADER snippets; ``held_back`` marks the
  fixed 30 % of each of its four files never trained on (half for calibration, half for
  measuring: ``HeldBack``).
- ``semeval_held_back``: 2,000 SemEval tweets never trained on (the same two halves).
- ``written_posts``: 480 posts written and labelled for this project, never trained on
  (``scripts/data/written_posts.csv``): 320 to or about companies' customer service (thanks
  for a problem fixed, complaints, calm questions, sarcasm) and 160 everyday ones (neutral
  statements and announcements, praise in words that look negative, jokes, sarcasm).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEMEVAL_FOLDER = "semeval2017_sentiment_train"
ISARCASM_FILE = "isarcasmeval/train.En.csv"
ISARCASM_HELD_OUT = 0.2  # the held-out fifth of the iSarcasmEval tweets
ISARCASM_SEED = 13
ISARCASM_CALIBRATION = 0.1  # of all iSarcasmEval tweets, outside the held-out fifth
VADER_FILES = (
    "tweets_GroundTruth.txt",
    "movieReviewSnippets_GroundTruth.txt",
    "amazonReviewSnippets_GroundTruth.txt",
    "nytEditorialSnippets_GroundTruth.txt",
)
VALENCE_SCALE = 4.0  # VADER ground-truth ratings lie in -4..+4
VADER_HELD_BACK = 0.3  # of each VADER file, never trained on
SEMEVAL_HELD_BACK = 2000  # SemEval tweets never trained on
SEMEVAL_SARCASM_FILE = "twitter-2014sarcasm-A.tsv"  # not a source of sincere tweets
HELD_BACK_SEED = 21
WRITTEN_POSTS = Path(__file__).resolve().parent / "data" / "written_posts.csv"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")
_KEY_DROP = re.compile(r"[^a-z0-9]+")


def tweeteval(data: Path, task: str, split: str) -> tuple[list[str], list[str]]:
    """Texts and class names of a TweetEval split (``DATA/text/tweeteval/TASK``)."""
    folder = data / "text" / "tweeteval" / task
    names = dict(
        line.split("\t") for line in (folder / "mapping.txt").read_text().splitlines() if line
    )
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [names[v] for v in (folder / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts, {len(labels)} labels")
    return texts, labels


def classes_of(data: Path, task: str) -> list[str]:
    """A TweetEval task's class names in label order."""
    mapping = (data / "text" / "tweeteval" / task / "mapping.txt").read_text().splitlines()
    return [line.split("\t")[1] for line in mapping if line]


def tweet_key(text: str) -> str:
    """A tweet's identity across releases: mentions and URLs dropped (TweetEval writes
    ``@user``), then lower-case letters and digits only."""
    text = _URL.sub(" ", _MENTION.sub(" ", text.lower()))
    return _KEY_DROP.sub("", text)


def _unescape(text: str) -> str:
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text).strip()
    if len(text) > 1 and text[0] == '"' and text[-1] == '"':  # some rows quote the text
        text = text[1:-1]
    return text


def semeval_sentiment(data: Path, exclude: Iterable[str] = ()) -> tuple[list[str], list[str], int]:
    """SemEval 2013-2016 Task 4A tweets: texts, labels, and how many ``exclude`` removed.

    Duplicates (the same tweet in two years' files) are kept once, with their first label.
    """
    excluded = {tweet_key(t) for t in exclude}
    seen: set[str] = set()
    texts, labels, dropped = [], [], 0
    for path in sorted((data / "text" / SEMEVAL_FOLDER).glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or not parts[2].strip():
                continue
            text = _unescape(parts[2])
            key = tweet_key(text)
            if key in excluded:
                dropped += 1
                continue
            if key in seen or not key:
                continue
            seen.add(key)
            texts.append(text)
            labels.append(parts[1].strip())
    return texts, labels, dropped


@dataclass
class Sarcasm:
    """iSarcasmEval training tweets.

    Attributes:
        texts: the tweets.
        sarcastic: int [n], 1 where the author meant it sarcastically.
        rephrases: the author's plain rephrase ("" for sincere tweets).
        held_out: bool [n], the fixed held-out fifth (stratified by ``sarcastic``).
        calibration: bool [n], a further tenth (stratified) that calibrates ``sarcasm_prob``.
    """

    texts: list[str]
    sarcastic: np.ndarray
    rephrases: list[str]
    held_out: np.ndarray
    calibration: np.ndarray

    @property
    def train(self) -> np.ndarray:
        """bool [n]: the tweets a model may train on."""
        return ~(self.held_out | self.calibration)


def isarcasmeval(data: Path) -> Sarcasm:
    """The iSarcasmEval training tweets and the held-out fifth (fixed seed)."""
    texts, sarcastic, rephrases = [], [], []
    with open(data / "text" / ISARCASM_FILE, encoding="utf-8-sig", newline="") as stream:
        for row in csv.DictReader(stream):
            text = (row.get("tweet") or "").strip()
            if not text:
                continue
            texts.append(text)
            sarcastic.append(int(row["sarcastic"]))
            rephrases.append((row.get("rephrase") or "").strip())
    y = np.array(sarcastic, dtype=np.int64)
    rng = np.random.default_rng(ISARCASM_SEED)
    held = np.zeros(len(y), bool)
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        held[rng.choice(members, round(ISARCASM_HELD_OUT * len(members)), replace=False)] = True
    # drawn after the held-out fifth, so that fifth stays the one v1 and v2 were measured on
    calibration = np.zeros(len(y), bool)
    for label in (0, 1):
        members = np.flatnonzero((y == label) & ~held)
        count = round(ISARCASM_CALIBRATION * np.sum(y == label))
        calibration[rng.choice(members, count, replace=False)] = True
    return Sarcasm(texts, y, rephrases, held, calibration)


@dataclass
class HeldBack:
    """Items of a set never trained on: ``part`` is 0 (training), 1 (calibration) or 2
    (measuring), per item."""

    part: np.ndarray

    @property
    def train(self) -> np.ndarray:
        return self.part == 0

    @property
    def calibration(self) -> np.ndarray:
        return self.part == 1

    @property
    def measuring(self) -> np.ndarray:
        return self.part == 2


def _split(groups: np.ndarray, share: float | int, seed: int) -> HeldBack:
    """Per group, ``share`` of its items (a fraction, or a count over all) held back, their
    halves alternately calibration and measuring."""
    rng = np.random.default_rng(seed)
    part = np.zeros(len(groups), np.int64)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        count = round(share * len(members)) if isinstance(share, float) else share
        chosen = rng.choice(members, count, replace=False)
        part[chosen[0::2]], part[chosen[1::2]] = 1, 2
    return HeldBack(part)


def vader_ground_truth(data: Path) -> tuple[list[str], np.ndarray, np.ndarray, HeldBack]:
    """VADER ground-truth snippets, their mean human valence divided by 4 (in [-1, 1]), the
    index of their file in ``VADER_FILES``, and the held-back split (30 % of each file)."""
    texts, values, files = [], [], []
    for index, name in enumerate(VADER_FILES):
        lines = (data / "text" / "vader_groundtruth" / name).read_text(
            encoding="utf-8", errors="replace"
        )
        for line in lines.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or not parts[2].strip():
                continue
            texts.append(parts[2])
            values.append(float(parts[1]) / VALENCE_SCALE)
            files.append(index)
    files = np.array(files)
    held = _split(files, VADER_HELD_BACK, HELD_BACK_SEED)
    return texts, np.array(values, dtype=np.float32), files, held


def semeval_held_back(count: int) -> HeldBack:
    """``SEMEVAL_HELD_BACK`` of ``count`` SemEval tweets (``semeval_sentiment``'s order)."""
    return _split(np.zeros(count, np.int64), SEMEVAL_HELD_BACK, HELD_BACK_SEED)


def semeval_sarcasm_keys(data: Path) -> set[str]:
    """``tweet_key`` of the tweets of SemEval 2014's sarcasm file (not sincere tweets)."""
    path = data / "text" / SEMEVAL_FOLDER / SEMEVAL_SARCASM_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {tweet_key(_unescape(p[2])) for p in (x.split("\t") for x in lines) if len(p) >= 3}


@dataclass
class Written:
    """The posts this project wrote (``WRITTEN_POSTS``), none of them trained on.

    Attributes:
        texts: the posts.
        domain: "customer_service" (a post to or about a company's service) or "everyday".
        sentiment: what a sincere post means (negative, neutral, positive); "" where sarcastic.
        sarcastic: int [n], 1 where the post is a sarcastic complaint.
    """

    texts: list[str]
    domain: np.ndarray
    sentiment: np.ndarray
    sarcastic: np.ndarray


def written_posts(path: Path = WRITTEN_POSTS) -> Written:
    """The written posts and their labels."""
    with open(path, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    sarcastic = np.array([int(r["sarcastic"]) for r in rows], dtype=np.int64)
    return Written(
        [r["text"] for r in rows],
        np.array([r["domain"] for r in rows]),
        np.array([r["sentiment"] for r in rows]),
        sarcastic,
    )
