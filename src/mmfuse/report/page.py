"""One self-contained HTML page: a header, titled sections of markup, one inline script.

Everything is inline (styles, the script, SVG charts, JPEG thumbnails as ``data:`` URIs), so
the file reads offline and can be e-mailed. Markup is built only by this package's helpers,
which escape every piece of text they are given; ``Html`` marks what is already safe. The
page's Content-Security-Policy allows its one script (by SHA-256), inline styles and
``data:`` images, and nothing else: no network, no other script, no plugin, no form.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from dataclasses import dataclass, field

from mmfuse.report.script import SCRIPT

STYLE = """
:root { --ink: #1d2329; --soft: #5b6670; --line: #d9dee3; --bg: #f6f7f9; --bad: #b3261e; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: var(--ink);
  background: var(--bg); font-size: 15px; line-height: 1.45; }
header { background: #17324d; color: #fff; padding: 1.2em 2em; }
header h1 { margin: 0 0 0.2em; font-size: 1.5em; } header p { margin: 0; color: #c9d6e3; }
main { padding: 0 2em 3em; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 1.2em 0;
  padding: 0.6em 1.2em 1.2em; }
h2 { font-size: 1.2em; margin: 0.6em 0; } h3 { font-size: 1em; margin: 1em 0 0.4em; }
p.note { color: var(--soft); margin: 0.2em 0 0.8em; }
p.callout { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.6em 1em; }
table { border-collapse: collapse; font-size: 0.88em; }
th, td { border: 1px solid var(--line); padding: 0.25em 0.5em; text-align: left;
  vertical-align: top; max-width: 32em; overflow-wrap: break-word; }
th { background: #eef1f4; position: sticky; top: 0; white-space: nowrap; }
div.rows table { width: max-content; } div.rows td { min-width: 2.5em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error, .failures td { color: var(--bad); }
.numbers { display: flex; flex-wrap: wrap; gap: 0.6em 2.4em; margin: 0.6em 0; }
.numbers div b { display: block; font-size: 1.5em; }
.numbers div span { color: var(--soft); }
.numbers div.bad b { color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dl.facts dt { color: var(--soft); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code { background: #eef1f4; padding: 0 0.3em; border-radius: 3px; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.charts figure { margin: 0; } .charts svg { max-width: 100%; height: auto; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 0.6em; width: 300px; }
.card img { max-width: 100%; display: block; margin-bottom: 0.4em; }
.card p { margin: 0.3em 0; font-size: 0.9em; overflow-wrap: anywhere; }
.card .label { color: var(--soft); font-size: 0.85em; }
.strip { display: flex; gap: 4px; overflow-x: auto; margin: 0.3em 0 0.9em; }
.strip img { height: 120px; }
.scroll { overflow-x: auto; max-height: 70vh; overflow-y: auto; }
.rows-controls { display: flex; gap: 0.8em; align-items: center; margin: 0.6em 0; flex-wrap: wrap; }
.rows-controls input { padding: 0.3em 0.5em; min-width: 20em; }
th button { all: unset; cursor: pointer; } th button::after { content: " \\2195"; color: #99a; }
th[aria-sort=ascending] button::after { content: " \\2191"; color: var(--ink); }
th[aria-sort=descending] button::after { content: " \\2193"; color: var(--ink); }
"""


class Html(str):
    """Markup that is safe to place in the page as it is (built by this package)."""

    __slots__ = ()


def escape(value) -> Html:
    """Text as markup: ``<``, ``>``, ``&`` and both quotes escaped; None is empty."""
    return Html("" if value is None else html.escape(str(value), quote=True))


def tag(name: str, content: Iterable[str] | str = "", **attributes) -> Html:
    """``<name attr="...">content</name>``: text content and attribute values are escaped,
    ``Html`` content is kept. A trailing underscore in an attribute name is dropped
    (``class_``), other underscores become hyphens (``aria_sort``)."""
    parts = [content] if isinstance(content, str) else list(content)
    inner = "".join(p if isinstance(p, Html) else escape(p) for p in parts)
    attrs = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{escape(v)}"'
        for k, v in attributes.items()
        if v is not None
    )
    return Html(f"<{name}{attrs}>{inner}</{name}>")


def numbers(values: dict[str, object], bad: Iterable[str] = ()) -> Html:
    """Headline numbers: a big value over its name (names in ``bad`` in red when nonzero)."""
    bad = set(bad)
    cells = [
        tag("div", [tag("b", str(v)), tag("span", k)], class_="bad" if k in bad and v else None)
        for k, v in values.items()
    ]
    return tag("div", cells, class_="numbers")


def facts(pairs: Iterable[tuple[str, object]]) -> Html:
    """A definition list of name/value pairs (text values escaped, ``Html`` kept)."""
    items = []
    for name, value in pairs:
        items += [tag("dt", name), tag("dd", value if isinstance(value, Html) else str(value))]
    return tag("dl", items, class_="facts")


@dataclass
class Section:
    """A titled part of the page.

    Attributes:
        title: the heading.
        parts: markup in order (charts, tables, cards), each built by this package.
        note: a sentence under the heading.
        id: the section's anchor (and the tests' handle); from the title when empty.
    """

    title: str
    parts: list[Html] = field(default_factory=list)
    note: str = ""
    id: str = ""

    def anchor(self) -> str:
        return self.id or "".join(c if c.isalnum() else "-" for c in self.title.lower())


@dataclass
class Page:
    """The whole report: title, one line under it, then the sections."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)


def script_hash(script: str = SCRIPT) -> str:
    """The CSP source of an inline script: ``'sha256-<base64 digest>'``."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy() -> str:
    """Only this page's script, inline styles and ``data:`` images; nothing from anywhere."""
    return (
        f"default-src 'none'; script-src {script_hash()}; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def render(page: Page) -> str:
    """The page as one HTML document."""
    head = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(page.title)}</title><style>{STYLE}</style></head><body>\n"
    )
    header = tag("header", [tag("h1", page.title), tag("p", page.subtitle)])
    body = []
    for section in page.sections:
        inner = [tag("h2", section.title)]
        if section.note:
            inner.append(tag("p", section.note, class_="note"))
        body.append(tag("section", [*inner, *section.parts], id=section.anchor()))
    main = tag("main", body)
    return f"{head}{header}\n{main}\n<script>{SCRIPT}</script>\n</body></html>\n"
