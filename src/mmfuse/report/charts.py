"""Charts as inline SVG, drawn by matplotlib (no pyplot state, the SVG backend, text as text).

Each chart is a ``<figure class="chart" data-chart=NAME>`` around matplotlib's SVG. Text stays
``<text>`` (``svg.fonttype = "none"``: small, searchable, in the page's font), escaped by
matplotlib's SVG writer; ``$`` in labels is plain text (``text.parse_math = False``). Element
ids are salted per chart, so several charts on one page never share a clip path.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence

from mmfuse.report.page import Html, tag

# Inches: charts are this wide; bar charts get BAR_INCHES per bar plus MARGIN_INCHES.
WIDTH_INCHES = 5.6
BAR_INCHES = 0.28
MARGIN_INCHES = 1.1
# Category labels are cut to this many characters; a chart shows at most MAX_BARS bars.
MAX_LABEL_CHARS = 44
MAX_BARS = 25
# Colour-blind-safe palette (Okabe & Ito 2008) and the sentiment colours used throughout.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
SENTIMENT_COLOURS = {"negative": "#D55E00", "neutral": "#BBBBBB", "positive": "#009E73"}
# One colour per class in every report, whichever classes a run found and in whatever order:
# the model's emotions, the parts of a screening's fit score, "other". A name not listed gets
# a palette colour picked by a hash of the name (``colour_of``), the same in every report.
CLASS_COLOURS = {
    **SENTIMENT_COLOURS,
    "anger": "#D55E00",
    "joy": "#E69F00",
    "optimism": "#009E73",
    "sadness": "#0072B2",
    "other": "#999999",
}
_RC = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _label(text) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _figure(height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_INCHES, height), layout="constrained")


def to_svg(figure, name: str, salt: str) -> Html:
    """A matplotlib figure as a ``<figure>`` of inline SVG (no XML prolog, no date)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"{name}-{salt}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # ids unique on the page: every id and its references get the chart's name in front
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r'(href="#|url\(#)([^")]+)', rf"\1{name}-\2", svg)
    return Html(tag("figure", Html(svg), class_="chart", data_chart=name))


def colour_of(name: str) -> str:
    """The colour of a class or series called ``name``, the same in every chart and report."""
    if name in CLASS_COLOURS:
        return CLASS_COLOURS[name]
    digest = hashlib.sha256(name.strip().lower().encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def colours_for(names: Sequence[str], given: Mapping[str, str] | None) -> dict[str, str]:
    """Each name's colour: ``given``'s, else ``colour_of``; a name whose hashed colour another
    name in the chart already has takes the next free palette colour (stable for the names)."""
    chosen = {n: given[n] for n in names if given and n in given}
    chosen |= {n: CLASS_COLOURS[n] for n in names if n not in chosen and n in CLASS_COLOURS}
    for name in sorted(n for n in names if n not in chosen):
        start = PALETTE.index(colour_of(name))
        free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
        chosen[name] = next((c for c in free if c not in chosen.values()), free[0])
    return chosen


def _salt(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def bar_chart(
    name: str, title: str, labels: Sequence, values: Sequence[float], xlabel: str = ""
) -> Html:
    """Horizontal bars, first label on top (at most ``MAX_BARS``)."""
    labels, values = [_label(x) for x in labels][:MAX_BARS], list(values)[:MAX_BARS]
    with _rc():
        figure = _figure(MARGIN_INCHES + BAR_INCHES * max(len(labels), 2))
        axes = figure.subplots()
        axes.barh(range(len(labels)), values, color=PALETTE[0])
        axes.set_yticks(range(len(labels)), labels)
        axes.invert_yaxis()
        figure.suptitle(title, x=0.01, ha="left", fontsize=10)
        axes.set_xlabel(xlabel)
        for y, value in enumerate(values):
            axes.annotate(
                f"{value:g}",
                (value, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    return to_svg(figure, name, _salt(title, labels, values))


def stacked_bars(
    name: str,
    title: str,
    labels: Sequence,
    parts: Mapping[str, Sequence[float]],
    xlabel: str = "",
    colours: Mapping[str, str] | None = None,
) -> Html:
    """Horizontal bars made of ``parts`` (name -> one value per label), with a legend; each
    part in its own colour (``colours``, else ``colour_of``), whatever the others are."""
    labels = [_label(x) for x in labels][:MAX_BARS]
    colours = colours_for(list(parts), colours)
    with _rc():
        figure = _figure(MARGIN_INCHES + 0.4 + BAR_INCHES * max(len(labels), 2))
        axes = figure.subplots()
        left = [0.0] * len(labels)
        for part, values in parts.items():
            values = [float(v or 0) for v in list(values)[: len(labels)]]
            colour = colours[part]
            axes.barh(range(len(labels)), values, left=left, label=_label(part), color=colour)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(range(len(labels)), labels)
        axes.invert_yaxis()
        figure.suptitle(title, x=0.01, ha="left", fontsize=10)
        axes.set_xlabel(xlabel)
        figure.legend(loc="outside lower center", ncols=min(len(parts), 3), frameon=False)
    return to_svg(figure, name, _salt(title, labels, {k: list(v) for k, v in parts.items()}))


def line_chart(
    name: str,
    title: str,
    x: Sequence,
    series: Mapping[str, Sequence[float]],
    ylabel: str = "",
    colours: Mapping[str, str] | None = None,
) -> Html:
    """Lines over ``x`` (dates or numbers), one per series, with markers and a legend."""
    colours = colours_for(list(series), colours)
    with _rc():
        figure = _figure(3.0)
        axes = figure.subplots()
        for label, values in series.items():
            colour = colours[label]
            axes.plot(list(x), list(values), marker="o", label=_label(label), color=colour)
        figure.suptitle(title, x=0.01, ha="left", fontsize=10)
        axes.set_ylabel(ylabel)
        axes.legend(frameon=False, fontsize=8)
        figure.autofmt_xdate()
    return to_svg(figure, name, _salt(title, [str(v) for v in x], dict(series)))


def column_chart(
    name: str, title: str, labels: Sequence, values: Sequence[float], xlabel: str = ""
) -> Html:
    """Vertical bars in the labels' order (hours of the day, months)."""
    labels = [str(x) for x in labels]
    with _rc():
        figure = _figure(2.6)
        axes = figure.subplots()
        axes.bar(range(len(labels)), list(values), color=PALETTE[0])
        axes.set_xticks(range(len(labels)), labels, fontsize=7)
        figure.suptitle(title, x=0.01, ha="left", fontsize=10)
        axes.set_xlabel(xlabel)
    return to_svg(figure, name, _salt(title, labels, list(values)))


def charts(*figures: Html) -> Html:
    """Charts side by side (wrapping)."""
    return tag("div", [f for f in figures if f], class_="charts")


def _rc():
    import matplotlib

    return matplotlib.rc_context(_RC)
