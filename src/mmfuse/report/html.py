"""A self-contained HTML report: headline numbers and tables, no scripts, no external files.

Every cell is HTML-escaped, so text from posts, CVs or file names cannot inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.error { color: #b00; }
.numbers span { display: inline-block; margin-right: 2em; }
.numbers b { font-size: 1.4em; display: block; }
"""
# Long cells (post texts, transcripts) are cut in the report; the CSV has them whole.
MAX_CELL_CHARS = 280


@dataclass
class Section:
    """A titled table of the report.

    Attributes:
        title: the heading.
        columns: column names, in order.
        rows: dicts from column name to a scalar (missing keys give empty cells).
        note: a sentence under the heading.
    """

    title: str
    columns: Sequence[str]
    rows: Iterable[dict]
    note: str = ""


@dataclass
class Report:
    """A report: a title, headline numbers, then sections."""

    title: str
    numbers: dict[str, str] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


def _cell(value) -> str:
    if value is None:
        return ""
    text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return html.escape(text)


def write_report(report: Report, stream: TextIO) -> None:
    """Writes ``report`` as one HTML page to a text stream."""
    out = stream.write
    out("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>")
    out(f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head><body>\n")
    out(f"<h1>{html.escape(report.title)}</h1>\n<p class='numbers'>")
    for name, value in report.numbers.items():
        out(f"<span><b>{html.escape(str(value))}</b>{html.escape(name)}</span>")
    out("</p>\n")
    for section in report.sections:
        out(f"<h2>{html.escape(section.title)}</h2>\n")
        if section.note:
            out(f"<p>{html.escape(section.note)}</p>\n")
        out("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in section.columns))
        out("</tr>\n")
        for row in section.rows:
            cells = []
            for column in section.columns:
                css = " class='error'" if column == "error" and row.get(column) else ""
                cells.append(f"<td{css}>{_cell(row.get(column))}</td>")
            out("<tr>" + "".join(cells) + "</tr>\n")
        out("</table>\n")
    out("</body></html>\n")
