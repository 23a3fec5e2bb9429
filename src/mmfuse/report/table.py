"""Tables: small static ones, and the rows table the page's script sorts, filters and pages.

The rows table carries its rows as JSON inside ``<script type="application/json">`` (data,
never run). ``<``, ``>``, ``&`` and the line separators are written as ``\\u`` escapes in that
JSON, so a cell holding ``</script>`` cannot close the block.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

from mmfuse.report.page import Html, escape, tag

# Long cells (post texts, transcripts) are cut in the report; the CSV has them whole.
MAX_CELL_CHARS = 280
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def cell_value(value):
    """A cell as the report shows it: floats to 3 decimals, long text cut, arrays left out."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a numpy scalar
        return cell_value(value.item())
    if isinstance(value, str):
        return value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - 1] + "…"
    return None  # arrays and lists: the Parquet file has them


def _shown(value) -> str:
    value = cell_value(value)
    return "" if value is None else str(value)


def table(columns: Sequence[str], rows: Iterable[dict], class_: str | None = None) -> Html:
    """A static table of ``rows`` (dicts; missing keys give empty cells)."""
    header = tag("tr", [tag("th", c) for c in columns])
    lines = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            numeric = isinstance(cell_value(value), int | float) and not isinstance(value, bool)
            cells.append(tag("td", _shown(value), class_="num" if numeric else None))
        lines.append(tag("tr", cells))
    return tag(
        "div",
        tag("table", [tag("thead", header), tag("tbody", lines)], class_=class_),
        class_="scroll",
    )


def safe_json(data) -> str:
    """JSON that can sit inside a ``<script>`` element (no ``<``, ``>`` or ``&`` in it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def rows_table(columns: Sequence[str], rows: Iterable[dict], name: str = "rows") -> Html:
    """The interactive table of every row: sortable by column, filterable, paginated.

    Args:
        columns: the columns shown, in order (array columns are left out by the caller).
        rows: dicts from column name to a scalar.
        name: unique on the page; the JSON block is ``#<name>-data``.
    """
    body = [[cell_value(row.get(c)) for c in columns] for row in rows]
    numeric = [
        any(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in body)
        and all(r[i] is None or r[i] == "" or isinstance(r[i], int | float) for r in body)
        for i in range(len(columns))
    ]
    data = safe_json({"columns": list(columns), "numeric": numeric, "rows": body})
    block = Html(f'<script type="application/json" id="{escape(name)}-data">{data}</script>')
    return Html(block + tag("div", "", class_="rows", id=name, data_source=f"{name}-data"))
