"""Reading order of a PDF page laid out in two columns (a CV's sidebar beside its main text).

pypdf returns text in the order the PDF draws it. Many generators draw a two-column page row
by row, so a sidebar's "Skills" line lands between two lines of a job description. Here the
page's text fragments are placed by position (text matrix times the graphics transform), and
a **gutter** is looked for: a vertical line that no text crosses on most lines, with at least
``MIN_COLUMN_SHARE`` of the page's characters on each side. When there is one, lines are read
top to bottom, and each run of lines that do not cross the gutter is written left column
first, then right column; a line that crosses it (a title across the page) closes the run.
Without a gutter the page keeps pypdf's own order, so single-column pages, and pages with
only a narrow margin of dates or a contact block on one side, read as before.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_COLUMN_SHARE = 0.2  # each column holds at least this share of the page's characters
MAX_CROSSING_SHARE = 0.15  # at most this share of lines may cross the gutter (titles)
CHAR_WIDTH = 0.5  # a character's width in font sizes (Helvetica averages about 0.5)
LINE_TOLERANCE = 2.0  # points: fragments this close in height are one line
GUTTER_STEP = 4.0  # points between the gutter positions tried
GUTTER_RANGE = (0.25, 0.75)  # where on the page a gutter may be, as shares of its width


@dataclass(frozen=True)
class Fragment:
    """A piece of text drawn at one place: left and right edge, baseline height."""

    x0: float
    x1: float
    y: float
    text: str


def fragments(page) -> list[Fragment]:
    """The page's text fragments with their positions (pypdf's ``visitor_text``)."""
    found: list[Fragment] = []

    def visit(text, cm, tm, _font, font_size):
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[0] * cm[0]) or 1.0
        width = len(text.rstrip()) * CHAR_WIDTH * font_size * scale
        found.append(Fragment(x, x + width, y, text.replace("\n", " ").strip()))

    page.extract_text(visitor_text=visit)
    return found


def _lines(parts: list[Fragment]) -> list[list[Fragment]]:
    """Fragments grouped into lines, top of the page first, each line left to right."""
    lines: list[list[Fragment]] = []
    for fragment in sorted(parts, key=lambda f: -f.y):
        if lines and abs(lines[-1][0].y - fragment.y) <= LINE_TOLERANCE:
            lines[-1].append(fragment)
        else:
            lines.append([fragment])
    return [sorted(line, key=lambda f: f.x0) for line in lines]


def find_gutter(lines: list[list[Fragment]], width: float) -> float | None:
    """The x of the gutter between two columns (see the module docstring), or None."""
    total = sum(len(f.text) for line in lines for f in line)
    if not total or len(lines) < 4:
        return None
    best, best_balance = None, 0.0
    x = GUTTER_RANGE[0] * width
    while x <= GUTTER_RANGE[1] * width:
        crossing = sum(any(f.x0 < x < f.x1 for f in line) for line in lines)
        left = sum(len(f.text) for line in lines for f in line if f.x1 <= x)
        balance = min(left, total - left) / total
        if crossing <= MAX_CROSSING_SHARE * len(lines) and balance > best_balance:
            best, best_balance = x, balance
        x += GUTTER_STEP
    return best if best_balance >= MIN_COLUMN_SHARE else None


def _text(line: list[Fragment]) -> str:
    return " ".join(f.text for f in line)


def column_text(page) -> str | None:
    """The page's text in column order, or None when the page has no two columns."""
    lines = _lines(fragments(page))
    gutter = find_gutter(lines, float(page.mediabox.width))
    if gutter is None:
        return None
    out: list[str] = []
    left: list[str] = []
    right: list[str] = []
    for line in lines:
        if any(f.x0 < gutter < f.x1 for f in line):
            out += left + right + [_text(line)]
            left, right = [], []
            continue
        if part := [f for f in line if f.x1 <= gutter]:
            left.append(_text(part))
        if part := [f for f in line if f.x1 > gutter]:
            right.append(_text(part))
    return "\n".join(out + left + right)
