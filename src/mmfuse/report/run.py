"""The parts of every run's report: the findings first, then failures, rows and run details.

``run_page(record, rows, columns, sections)`` builds the page from the run's manifest record
(``manifest.json``), its rows and the task's own sections: a line of headline counts, the
task's sections (what was found), the failures (file and error), every row in a sortable,
filterable, paginated table, and last the run's details (command, the models that ran with
their licences, options, timings).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmfuse.report.page import Html, Page, Section, facts, numbers, tag
from mmfuse.report.table import cell_value, rows_table, table

REPORT_HTML = "report.html"
# Failures listed in full; the rows table (filter "error") has the rest.
MAX_FAILURES = 200


def _seconds(value) -> str:
    if value in (None, ""):
        return ""
    value = float(value)
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _option_text(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def failures_section(record: dict) -> Section | None:
    """Every failed item with its error line (None when none failed)."""
    failures = record.get("failures") or []
    if not failures:
        return None
    shown = failures[:MAX_FAILURES]
    more = len(failures) - len(shown)
    note = f"{len(failures)} item(s) failed; each is a row with this error in results.csv."
    if more:
        note += f" The first {MAX_FAILURES} are listed; filter the rows table for the rest."
    return Section(
        "Failures", [table(["id", "error"], shown, class_="failures")], note, id="failures"
    )


def headline_section(record: dict) -> Section:
    """The counts a reader needs before the findings: items, failed, from cache, time."""
    items, timings = record.get("items", {}), record.get("timings", {})
    headline = numbers(
        {
            "items": items.get("total", ""),
            "ok": items.get("ok", ""),
            "failed": items.get("failed", 0),
            "from cache": items.get("from_cache", 0),
            "total time": _seconds(timings.get("total_s")),
        },
        bad=("failed",),
    )
    note = "Failed items are listed below the findings." if items.get("failed") else ""
    return Section("At a glance", [headline], note, id="glance")


def run_section(record: dict) -> Section:
    """What ran: command, timings, the models that ran with their licences, and options."""
    items, timings = record.get("items", {}), record.get("timings", {})
    about = facts(
        [
            ("task", record.get("task", "")),
            ("command", tag("code", record.get("command", ""))),
            ("input", (record.get("run") or {}).get("inputs", "")),
            ("started", timings.get("started", "")),
            (
                "timings",
                f"hashing {_seconds(timings.get('hash_s'))}, computing "
                f"{_seconds(timings.get('compute_s'))} ({timings.get('computed_per_s', '')} "
                f"items/s), writing {_seconds(timings.get('write_s'))}",
            ),
            ("resumed / computed", f"{items.get('resumed', 0)} / {items.get('computed', '')}"),
            ("mmfuse", record.get("mmfuse_version", "")),
            ("python, platform", f"{record.get('python', '')}, {record.get('platform', '')}"),
        ]
    )
    parts: list[Html] = [about]
    models = record.get("models") or []
    if models:
        parts += [tag("h3", "Models that ran"), table(["id", "licence", "package"], models)]
    options = record.get("options") or {}
    if options:
        rows = [{"option": k, "value": _option_text(v)} for k, v in options.items()]
        parts += [tag("h3", "Options"), table(["option", "value"], rows)]
    return Section("Run details", parts, id="run")


def rows_section(rows: Sequence[dict], columns: Sequence[str]) -> Section:
    """Every row: click a header to sort, type to filter; 50 rows a page."""
    return Section(
        "All rows",
        [rows_table(columns, rows, "rows-table")],
        "Every row of results.csv: click a column's name to sort, type to filter. Cells longer "
        "than the page shows are cut (the CSV has them whole).",
        id="rows",
    )


def scalar_columns(rows: Sequence[dict], columns: Sequence[str]) -> list[str]:
    """The columns that hold text or numbers (embedding arrays stay in the Parquet file)."""
    sample = rows[: min(len(rows), 50)]
    return [
        c
        for c in columns
        if not any(r.get(c) is not None and cell_value(r.get(c)) is None for r in sample)
    ]


def run_page(
    record: dict, rows: Sequence[dict], columns: Sequence[str], sections: Sequence[Section]
) -> Page:
    """The report of one run: counts, the task's findings, failures, all rows, run details."""
    task = record.get("task", "")
    items = record.get("items", {})
    subtitle = (
        f"{items.get('total', len(rows))} items, {items.get('failed', 0)} failed · "
        f"{(record.get('timings') or {}).get('started', '')} · mmfuse "
        f"{record.get('mmfuse_version', '')}"
    )
    parts = [headline_section(record), *sections, failures_section(record)]
    parts += [rows_section(rows, scalar_columns(rows, columns)), run_section(record)]
    return Page(f"mmfuse {task} report", subtitle, [s for s in parts if s is not None])
