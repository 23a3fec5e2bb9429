"""The market-research summary and the HTML report, from rows (no models)."""

from __future__ import annotations

import csv

import pytest

from mmfuse.tasks.social_media.summary import SUMMARY_COLUMNS, summarize, write_outputs

ROWS = [
    {"id": "1", "sentiment": "positive", "sentiment_score": 0.8, "sarcasm_prob": 0.1,
     "emotion": "joy", "topics": "travel", "brand": "acme", "error": ""},
    {"id": "2", "sentiment": "negative", "sentiment_score": -0.6, "sarcasm_prob": 0.7,
     "emotion": "anger", "topics": "travel; customer service", "brand": "acme", "error": ""},
    {"id": "3", "sentiment": "neutral", "sentiment_score": 0.0, "sarcasm_prob": 0.2,
     "emotion": "joy", "topics": "", "brand": "globex", "error": ""},
    {"id": "4", "error": "empty file"},
]  # fmt: skip


def by_key(summary):
    return {(row["group"], row["value"]): row for row in summary}


def test_summary_groups_by_all_topic_and_brand():
    summary = by_key(summarize(ROWS))
    everyone = summary["all", "all posts"]
    assert everyone["posts"] == 3  # the failed post is not counted
    assert (
        everyone["positive"]
        == everyone["negative"]
        == everyone["neutral"]
        == pytest.approx(1 / 3, abs=1e-3)
    )
    assert everyone["mean_sentiment_score"] == pytest.approx(0.067, abs=1e-3)
    assert everyone["sarcastic_share"] == pytest.approx(0.333, abs=1e-3)
    assert everyone["top_emotions"].startswith("joy 0.67")
    travel = summary["topic", "travel"]
    assert travel["posts"] == 2 and travel["sarcastic_share"] == 0.5
    assert summary["topic", "customer service"]["negative"] == 1.0
    assert summary["brand", "acme"]["posts"] == 2 and summary["brand", "globex"]["neutral"] == 1.0
    assert ("brand", "") not in summary


def test_summary_order_is_all_then_topics_then_groups():
    groups = [row["group"] for row in summarize(ROWS)]
    assert groups == ["all", "topic", "topic", "brand", "brand"]


def test_the_summary_is_written_beside_the_results(tmp_path):
    paths = write_outputs(ROWS, tmp_path)
    assert [p.name for p in paths] == ["summary.csv"]
    with open(tmp_path / "summary.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == list(SUMMARY_COLUMNS)
