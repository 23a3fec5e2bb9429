"""Readers of the development data ``mmfuse-base`` is trained and evaluated on (``DATA/text``).

- ``tweeteval``: a TweetEval split (texts and class names).
- ``semeval_sentiment``: the 50,333 SemEval 2013-2016 Task 4A tweets, the pool TweetEval's
  sentiment splits were drawn from; ``exclude`` drops tweets that are also in another set
  (817 of the 2,000 TweetEval sentiment validation tweets are), compared by ``tweet_key``.
- ``isarcasmeval``: the SemEval-2022 Task 6 training tweets, each with its author's sarcasm
  label and, for the sarcastic ones, the author's plain rephrase; ``isarcasm_split`` is the
  fixed held-out fifth every reported iSarcasmEval number is measured on.
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
    """

    texts: list[str]
    sarcastic: np.ndarray
    rephrases: list[str]
    held_out: np.ndarray


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
    return Sarcasm(texts, y, rephrases, held)
