"""The market-research view of analysed posts: summary.csv (its charts: ``social_report``).

One summary row per group: all posts, each topic, and each value of the brand/campaign-like
columns the input carried (``GROUP_COLUMNS`` found in the rows). Per group: post count, the
sentiment mix (share of negative, neutral and positive posts among those scored), the mean
sentiment score, the share of sarcastic posts (sarcasm probability of at least 0.5), and the
most frequent emotions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mmfuse.io.writers import atomic_write, write_csv

SUMMARY_CSV = "summary.csv"
# Input columns that name a segment worth its own summary rows, when present.
GROUP_COLUMNS = ("brand", "campaign", "author", "channel", "source", "product", "region")
# A post counts as sarcastic from this sarcasm probability on.
SARCASM_THRESHOLD = 0.5
SUMMARY_COLUMNS = (
    "group",
    "value",
    "posts",
    "scored",
    "negative",
    "neutral",
    "positive",
    "mean_sentiment_score",
    "sarcastic_share",
    "top_emotions",
)
# Shares and means in the summary keep this many decimals.
DECIMALS = 3
SENTIMENTS = ("negative", "neutral", "positive")  # the summary's mix columns, in order


def _groups(rows: Sequence[dict], columns: Sequence[str]) -> dict[tuple[str, str], list[dict]]:
    """(group, value) -> rows: every post, each topic, each value of the grouping columns."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("error"):
            continue
        groups["all", "all posts"].append(row)
        for topic in filter(None, (t.strip() for t in (row.get("topics") or "").split(";"))):
            groups["topic", topic].append(row)
        for column in columns:
            if row.get(column):
                groups[column, str(row[column])].append(row)
    return groups


def _numbers(rows: list[dict], column: str) -> list[float]:
    """The column's numeric cells (empty and None cells left out)."""
    return [float(r[column]) for r in rows if r.get(column) not in (None, "")]


def _summary(group: str, value: str, rows: list[dict]) -> dict:
    scored = [r for r in rows if r.get("sentiment")]
    mix = Counter(r["sentiment"] for r in scored)
    scores = _numbers(scored, "sentiment_score")
    sarcasm = _numbers(scored, "sarcasm_prob")
    emotions = Counter(r["emotion"] for r in scored if r.get("emotion"))
    n = len(scored)
    return {
        "group": group,
        "value": value,
        "posts": len(rows),
        "scored": n,
        **{name: round(mix[name] / n, DECIMALS) if n else None for name in SENTIMENTS},
        "mean_sentiment_score": round(sum(scores) / len(scores), DECIMALS) if scores else None,
        "sarcastic_share": (
            round(sum(p >= SARCASM_THRESHOLD for p in sarcasm) / len(sarcasm), DECIMALS)
            if sarcasm
            else None
        ),
        "top_emotions": "; ".join(
            f"{name} {count / n:.2f}" for name, count in emotions.most_common(3)
        ),
    }


def summarize(rows: Iterable[dict]) -> list[dict]:
    """Summary rows: all posts first, then topics, then grouping columns, largest first."""
    rows = list(rows)
    present = [c for c in GROUP_COLUMNS if any(r.get(c) for r in rows)]
    groups = _groups(rows, present)
    order = {"all": 0, "topic": 1, **{c: 2 + i for i, c in enumerate(present)}}
    keys = sorted(groups, key=lambda k: (order[k[0]], -len(groups[k]), k[1]))
    return [_summary(group, value, groups[group, value]) for group, value in keys]


def write_outputs(rows: Sequence[dict], out_dir: Path) -> list[Path]:
    """Writes summary.csv beside the results; returns its path."""
    with atomic_write(out_dir / SUMMARY_CSV) as stream:
        write_csv(summarize(rows), SUMMARY_COLUMNS, stream)
    return [out_dir / SUMMARY_CSV]
