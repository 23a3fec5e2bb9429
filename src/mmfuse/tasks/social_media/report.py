"""The social-media sections of report.html: what a market researcher looks at first.

- Sentiment and emotions: the sentiment mix of all posts and per topic, the top emotions per
  topic, the mix per brand/campaign-like column (``GROUP_COLUMNS``), and sentiment over time
  when the posts carry a timestamp column; then the summary table (summary.csv).
- Posts to read: the most negative, most sarcastic and most incongruent posts, each with its
  picture (an image, or a video's middle frame), text, transcript and scores.
- What the model looked at: per task, the mean share of attention on text, audio, image and
  video (the ``<task>_from_<source>`` columns).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from mmfuse.report.charts import SENTIMENT_COLOURS, charts, line_chart, stacked_bars
from mmfuse.report.page import Html, Section, numbers, tag
from mmfuse.report.table import table
from mmfuse.report.thumbnails import img, thumbnail
from mmfuse.tasks.social_media.scoring import FLIP_SARCASM, SOURCES
from mmfuse.tasks.social_media.summary import (
    GROUP_COLUMNS,
    SARCASM_THRESHOLD,
    SENTIMENTS,
    SUMMARY_COLUMNS,
    summarize,
)

# Passed-through columns read as the post's time, first found wins.
TIME_COLUMNS = ("timestamp", "datetime", "date", "created_at", "posted_at", "published", "time")
# Posts shown per "posts to read" list; topics and groups per chart; emotions per topic chart.
POSTS_SHOWN = 5
GROUPS_SHOWN = 15
EMOTIONS_SHOWN = 6
# Sentiment over time goes by day up to this many days of posts, by month beyond.
DAILY_SPAN_DAYS = 92
# Characters of a post's text and transcript on its card (the CSV has them whole).
CARD_TEXT_CHARS = 400


def _number(row: dict, column: str) -> float | None:
    value = row.get(column)
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _mix_chart(name: str, title: str, summary: list[dict]) -> Html:
    summary = summary[:GROUPS_SHOWN]
    return stacked_bars(
        name,
        title,
        [f"{s['value']} ({s['scored']})" for s in summary],
        {k: [s[k] or 0 for s in summary] for k in SENTIMENTS},
        "share of scored posts",
        SENTIMENT_COLOURS,
    )


def _emotion_chart(rows: Sequence[dict], topics: list[str]) -> Html | None:
    """Shares of the most frequent emotions among each topic's posts."""
    by_topic: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for row in rows:
        if row.get("error") or not row.get("emotion"):
            continue
        overall[row["emotion"]] += 1
        for topic in filter(None, (t.strip() for t in (row.get("topics") or "").split(";"))):
            by_topic[topic][row["emotion"]] += 1
    topics = [t for t in topics if by_topic[t]]
    if not topics:
        return None
    shown = [e for e, _ in overall.most_common(EMOTIONS_SHOWN)]
    parts = {e: [by_topic[t][e] / sum(by_topic[t].values()) for t in topics] for e in shown}
    if len(overall) > len(shown):
        parts["other"] = [1 - sum(p[i] for p in parts.values()) for i in range(len(topics))]
    return stacked_bars(
        "emotions-by-topic", "Top emotions per topic", topics, parts, "share of posts"
    )


def _parse_time(text) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _time_chart(rows: Sequence[dict]) -> Html | None:
    """Mean sentiment score and the shares of positive and negative posts per day or month."""
    column = next((c for c in TIME_COLUMNS if any(r.get(c) for r in rows)), None)
    if column is None:
        return None
    dated = [(t, r) for r in rows if r.get("sentiment") and (t := _parse_time(r.get(column)))]
    if len(dated) < 2:
        return None
    days = {t.date() for t, _ in dated}
    daily = (max(days) - min(days)).days <= DAILY_SPAN_DAYS
    periods: dict[date, list[dict]] = defaultdict(list)
    for moment, row in dated:
        periods[moment.date() if daily else date(moment.year, moment.month, 1)].append(row)
    if len(periods) < 2:
        return None
    keys = sorted(periods)
    share = {
        s: [sum(r["sentiment"] == s for r in periods[k]) / len(periods[k]) for k in keys]
        for s in ("positive", "negative")
    }
    scores = [
        [v for r in periods[k] if (v := _number(r, "sentiment_score")) is not None] for k in keys
    ]
    series = {**share, "mean sentiment score": [sum(s) / len(s) if s else 0 for s in scores]}
    return line_chart(
        "sentiment-over-time",
        f"Sentiment by {'day' if daily else 'month'} ({column})",
        keys,
        series,
        colours={**SENTIMENT_COLOURS, "mean sentiment score": "#0072B2"},
    )


def sentiment_section(rows: Sequence[dict]) -> Section:
    """Headline shares, the mix per topic and group, emotions, time, the summary table."""
    summary = summarize(rows)
    overall = summary[0] if summary else {}
    by_group: dict[str, list[dict]] = defaultdict(list)
    for row in summary:
        by_group[row["group"]].append(row)
    percent = lambda v: "" if v is None else f"{100 * v:.0f}%"  # noqa: E731
    figures = [
        _mix_chart(
            "sentiment-by-topic", "Sentiment per topic", by_group["all"] + by_group["topic"]
        ),
        _emotion_chart(rows, [s["value"] for s in by_group["topic"][:GROUPS_SHOWN]]),
        *[
            _mix_chart(f"sentiment-by-{g}", f"Sentiment per {g}", by_group[g])
            for g in GROUP_COLUMNS
            if by_group[g]
        ],
        _time_chart(rows),
    ]
    headline = numbers(
        {
            "posts scored": overall.get("scored", 0),
            "positive": percent(overall.get("positive")),
            "negative": percent(overall.get("negative")),
            "sarcastic": percent(overall.get("sarcastic_share")),
            "read against their words": overall.get("flipped", 0),
            "mean sentiment score": overall.get("mean_sentiment_score", ""),
        }
    )
    return Section(
        "Sentiment and emotions",
        [
            headline,
            charts(*[f for f in figures if f]),
            tag("h3", "Summary (summary.csv)"),
            table(SUMMARY_COLUMNS, summary),
        ],
        f"Sentiment as meant: a post reads against its words (negative) only when it may be "
        f"sarcastic (sarcasm probability of at least {FLIP_SARCASM}; it is flagged sarcastic "
        f"from {SARCASM_THRESHOLD}, calibrated so that few sincere posts reach it) and "
        f"describes something bad, and does not laugh (a joke about a mishap is no complaint); "
        f"results.csv keeps the "
        f"words' reading (literal_sentiment) and says why (flip_reason). Bars give the number "
        f"of posts scored.",
        id="social-sentiment",
    )


def _picture(files: Sequence[Path]) -> str | None:
    for path in files:
        if uri := thumbnail(path):
            return uri
    return None


def _cut(text, limit: int = CARD_TEXT_CHARS) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _card(row: dict, files: Mapping[str, Sequence[Path]]) -> Html:
    scores = [
        f"{row.get('sentiment', '')} ({_number(row, 'sentiment_score')})",
        f"sarcasm {_number(row, 'sarcasm_prob')}",
    ]
    if _number(row, "incongruity"):
        scores.append(f"incongruity {row['incongruity']} ({row.get('incongruity_source', '')})")
    if row.get("emotion"):
        scores.append(str(row["emotion"]))
    parts = [
        img(_picture(files.get(row["id"], ())), f"picture of {row['id']}"),
        tag("p", [tag("b", row["id"]), " · ", ", ".join(scores)]),
        tag("p", _cut(row.get("text")), class_="text"),
    ]
    if row.get("transcript"):
        parts.append(
            tag("p", [tag("span", "transcript: ", class_="label"), _cut(row["transcript"])])
        )
    return tag("div", parts, class_="card")


def posts_section(rows: Sequence[dict], files: Mapping[str, Sequence[Path]]) -> Section:
    """The posts to read first: most negative, most sarcastic, most incongruent."""
    scored = [r for r in rows if not r.get("error") and r.get("sentiment")]
    lists = (
        ("Most negative", "sentiment_score", False, lambda v: v < 0),
        ("Most sarcastic", "sarcasm_prob", True, lambda v: v >= SARCASM_THRESHOLD),
        (
            "Most incongruent (caption against speech, picture or video)",
            "incongruity",
            True,
            lambda v: v > 0,
        ),
    )
    parts: list[Html] = []
    for title, column, highest, shown in lists:
        ranked = [r for r in scored if (v := _number(r, column)) is not None and shown(v)]
        ranked.sort(key=lambda r: _number(r, column), reverse=highest)
        if ranked:
            parts += [
                tag("h3", title),
                tag("div", [_card(r, files) for r in ranked[:POSTS_SHOWN]], class_="cards"),
            ]
    return Section(
        "Posts to read",
        parts or [tag("p", "No scored posts.")],
        "Each with its picture (a video's middle frame), text and transcript.",
        id="social-posts",
    )


def attention_section(rows: Sequence[dict]) -> Section | None:
    """Per task, the mean share of the model's attention on each source."""
    ok = [r for r in rows if not r.get("error")]
    tasks = [
        c.removesuffix("_from_text") for c in (ok[0] if ok else {}) if c.endswith("_from_text")
    ]
    if not tasks:
        return None
    means = {}
    for source in SOURCES:
        values = []
        for name in tasks:
            cells = [v for r in ok if (v := _number(r, f"{name}_from_{source}")) is not None]
            values.append(sum(cells) / len(cells) if cells else 0.0)
        means[source] = values
    chart = stacked_bars(
        "attention-shares", "Mean attention share per source", tasks, means, "share of attention"
    )
    return Section(
        "What the model looked at",
        [charts(chart)],
        "Each task's attention over the post's sources, averaged over posts "
        "(a post without audio, images or video gives them no share).",
        id="social-attention",
    )


def report_sections(
    rows: Sequence[dict], out_dir: Path, files: Mapping[str, Sequence[Path]]
) -> list[Section]:
    """The social-media sections, in reading order."""
    sections = [sentiment_section(rows), posts_section(rows, files), attention_section(rows)]
    return [s for s in sections if s is not None]
