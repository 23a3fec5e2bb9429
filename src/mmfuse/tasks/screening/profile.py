"""What a CV says about experience and education: years of experience and the highest degree.

Years of experience are the larger of what the CV states ("over 10 years of experience") and
what its dated positions cover: every "2017 - Present", "June 2018 - May 2020", "07/2015 -
03/2019" range in the experience section (the whole CV less its education section when it
has no experience heading), overlapping ranges merged, "present"/"current" being the
reference date. A range without months counts whole years ("2015 - 2020" is 5 years).
"Seit 2019" and "depuis 2019" run to the reference date. Dates and stated years
are read in English, German and French (``date_words`` holds their words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from mmfuse.tasks.screening.date_words import (
    PRESENT,
    RANGE_WORDS,
    SINCE_WORDS,
    STATED_YEARS,
    alternatives,
    month_number,
)
from mmfuse.tasks.screening.requirements import degree_level
from mmfuse.tasks.screening.sections import Sections

_MONTH = r"(?:(?P<{0}m>[^\W\d_]{{3,9}})\.?\s+|(?P<{0}n>\d{{1,2}})[/.-])?"
_RANGE = re.compile(
    _MONTH.format("a")
    + r"(?P<ay>(?:19|20)\d{2})\s*(?:-|\u2013|\u2014|"
    + alternatives(RANGE_WORDS)
    + r")\s*(?:"
    + _MONTH.format("b")
    + r"(?P<by>(?:19|20)\d{2})|(?P<now>"
    + alternatives(PRESENT)
    + "))",
    re.I,
)
# "seit 03/2019", "depuis mai 2019": a range to the reference date.
_SINCE = re.compile(
    r"\b" + alternatives(SINCE_WORDS) + r"\s+" + _MONTH.format("a") + r"(?P<ay>(?:19|20)\d{2})",
    re.I,
)
MAX_YEARS = 50  # a longer "career" is a misread range


def _month(match: re.Match, prefix: str, default: int) -> int:
    name, number = match.group(f"{prefix}m"), match.group(f"{prefix}n")
    if name and (found := month_number(name)):
        return found
    if number and 1 <= int(number) <= 12:
        return int(number)
    return default


def dated_ranges(text: str, today: date) -> list[tuple[float, float]]:
    """(start, end) of every date range in ``text``, in fractional years."""
    ranges = []
    now = today.year + (today.month - 1) / 12
    for match in (*_RANGE.finditer(text), *_SINCE.finditer(text)):
        start = int(match.group("ay")) + (_month(match, "a", 1) - 1) / 12
        if "by" not in match.re.groupindex or match.group("now"):
            end = now
        else:
            end = int(match.group("by")) + (_month(match, "b", 1) - 1) / 12
        if start <= end <= today.year + 1:
            ranges.append((start, end))
    return ranges


def merged_years(ranges: list[tuple[float, float]]) -> float:
    """Years covered by the union of ``ranges``."""
    total, current = 0.0, None
    for start, end in sorted(ranges):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    if current is not None:
        total += current[1] - current[0]
    return total


def years_of_experience(text: str, sections: Sections, today: date | None = None) -> float:
    """Years of experience a CV shows (see the module docstring), to one decimal."""
    today = today or date.today()
    experience = sections.text_of("experience")
    if not experience:
        education = sections.text_of("education")
        experience = text.replace(education, "") if education else text
    dated = merged_years(dated_ranges(experience, today))
    stated = max(
        (int(m.group(1)) for pattern in STATED_YEARS for m in pattern.finditer(text)), default=0
    )
    return round(min(max(dated, stated), MAX_YEARS), 1)


def highest_degree(text: str, sections: Sections) -> int | None:
    """The highest degree level in the education section (or the whole CV without one)."""
    return degree_level(sections.text_of("education") or text)


# A position that is training, not experience: a bootcamp, a course, a certificate.
TRAINING = re.compile(
    r"\b(?:boot\s?camp|course|courses|coursework|training|trainee program\w*|certificate"
    r"|certification|mooc|coursera|udemy|edx|nanodegree)\b",
    re.I,
)
# Words of an experience requirement that say how, not in what: "3+ years of professional
# experience in" -> the field that follows.
_FIELD_NOISE = re.compile(
    r"\b(?:\d+\s*\+?\s*(?:-\s*\d+\s*)?(?:years?|yrs?)|at least|minimum|of|experience|experienced"
    r"|professional|relevant|proven|hands-on|commercial|industry|working|work|in|with|as|on"
    r"|strong|solid|demonstrable|including|previous|prior|the|an?|building|developing|designing"
    r"|creating|running|managing|maintaining|delivering|leading)\b|[+()]",
    re.I,
)
_DEGREE_WORDS = re.compile(
    r"\b(?:ph\.?\s?d|doctorate|master'?s?|bachelor'?s?|m\.?sc|b\.?sc|m\.?s|b\.?s|m\.?a|b\.?a"
    r"|m\.?eng|b\.?eng|m\.?tech|b\.?tech|mba|associate'?s?|diploma|hons?|honours|degree"
    r"|of science|of arts|of engineering|of|in|a|an)\b\.?",
    re.I,
)
_RELATED = re.compile(r"related|similar|relevant|equivalent|quantitative|discipline", re.I)
_BULLET_START = re.compile(r"^[•*·▪◦●\-\u2013\u2014]")
_YEAR_RANGE = re.compile(
    r"(?:19|20)\d{2}(?:\s*[-\u2013\u2014]\s*(?:(?:19|20)\d{2}|present))?", re.I
)
_INSTITUTION = re.compile(r"\b(?:university|college|school|institute|academy)\b", re.I)
_ALTERNATIVES = re.compile(r"\s*(?:,|/|;|\bor\b|\band\b|&)\s*", re.I)


@dataclass(frozen=True)
class Role:
    """A dated position of a CV.

    Attributes:
        start, end: fractional years.
        title: its line without the dates ("Senior Marketing Analyst, ShopNow").
        text: the title and the duties below it, up to the next dated line.
        training: a bootcamp, a course or a certificate (``TRAINING``): not experience.
    """

    start: float
    end: float
    title: str
    text: str
    training: bool


def roles(text: str, today: date) -> list[Role]:
    """The dated positions of an experience section (see ``Role``). The title is the rest of
    the dates' line, or, when the dates stand alone ("June 2022 -" / "Present"), the line after
    them when it reads as a title (short, not a bullet), else the line before."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    line_of = lambda offset: next(i for i in range(len(lines)) if starts[i + 1] > offset)  # noqa: E731
    ranges = [m for m in _RANGE.finditer(text) if dated_ranges(m.group(0), today)]
    found = []
    for number, match in enumerate(ranges):
        first, last = line_of(match.start()), line_of(max(match.end() - 1, match.start()))
        rest = (text[starts[first] : match.start()] + text[match.end() : starts[last + 1]]).strip()
        title_line, body_from = first, last + 1
        if not re.search(r"[A-Za-z]{3}", rest):
            after = lines[last + 1].strip() if last + 1 < len(lines) else ""
            if after and len(after.split()) <= 12 and not _BULLET_START.match(after):
                title_line, body_from = last + 1, last + 2
            elif first > 0:
                title_line = first - 1
            rest = lines[title_line].strip()
        stop = line_of(ranges[number + 1].start()) if number + 1 < len(ranges) else len(lines)
        title = rest.strip(" ,|-\u2013")
        body = "".join([title, "\n", *lines[body_from:stop]])
        span = dated_ranges(match.group(0), today)[0]
        found.append(Role(*span, title, body, bool(TRAINING.search(title))))
    return found


def experience_field(requirement: str) -> str:
    """What an experience requirement's years are in: "3+ years of experience in data analysis"
    -> "data analysis" ("" when it names no field)."""
    field = re.sub(r"\b(?:or|and)?\s*(?:a\s+)?(?:similar|related|equivalent)\b.*$", "", requirement,
                   flags=re.I)  # fmt: skip
    return " ".join(_FIELD_NOISE.sub(" ", field).split()).strip(" ,.;:")


# Role nouns that name the same work: their stems count as one ("Software Engineer" meets
# "software development").
SAME_ROLE_STEMS = {"engin": "devel", "progr": "devel", "coder": "devel"}


def _stems(text: str) -> list[str]:
    stems = [w[:5].lower() for w in re.findall(r"[A-Za-z][A-Za-z+#]*", text) if len(w) > 2]
    return [SAME_ROLE_STEMS.get(s, s) for s in stems]


def field_alternatives(field: str) -> list[list[str]]:
    """A field's alternatives ("data analysis or marketing analytics"), each as the 5-letter
    stems of its words, so that "analyst" and "analytics" meet "analysis"."""
    alternatives = []
    for part in _ALTERNATIVES.split(field):
        stems = _stems(part)
        if stems:
            alternatives.append(stems)
    return alternatives


def names_field(text: str, alternatives: list[list[str]]) -> bool:
    """Whether ``text`` holds every word of one of the field's alternatives (by stem)."""
    stems = set(_stems(text))
    return any(all(s in stems for s in alternative) for alternative in alternatives)


def stated_years(text: str) -> list[tuple[float, str]]:
    """Years a CV states ("over 10 years of experience") with the sentence stating them."""
    found = []
    matches = sorted((m for pattern in STATED_YEARS for m in pattern.finditer(text)),
                     key=lambda m: m.start())  # fmt: skip
    for match in matches:
        start = max(text.rfind("\n", 0, match.start()), text.rfind(". ", 0, match.start()))
        end = min((i for i in (text.find("\n", match.end()), text.find(". ", match.end()))
                   if i >= 0), default=len(text))  # fmt: skip
        found.append((float(match.group(1)), text[start + 1 : end].strip()))
    return found


@dataclass(frozen=True)
class Degree:
    """A degree a CV names: its level (``requirements.DEGREE_NAMES``), field and line."""

    level: int
    field: str
    line: str


def degrees(text: str, sections: Sections) -> list[Degree]:
    """The degrees of the education section (or the whole CV without one), one a line."""
    found = []
    for line in (sections.text_of("education") or text).splitlines():
        level = degree_level(line)
        if level is None or TRAINING.search(line):
            continue
        field = ""
        for piece in re.split(r",|\s[-\u2013|]\s|\(", _YEAR_RANGE.sub(" ", line)):
            if _INSTITUTION.search(piece):
                break
            field = " ".join(_DEGREE_WORDS.sub(" ", piece).split()).strip(" ,.:;\u2013-")
            if field:
                break
        found.append(Degree(level, field, line.strip()))
    return found


def degree_fields(requirement: str) -> tuple[list[str], bool]:
    """The fields a degree requirement names ("in Statistics, Economics or Computer Science")
    and whether a related field does too ("or a related field")."""
    match = re.search(r"\bin\s+(.+)$", re.sub(r"\([^)]*\)", "", requirement), re.I)
    if not match:
        return [], False
    related = bool(_RELATED.search(match.group(1)))
    parts = [" ".join(p.split()).strip(" .") for p in _ALTERNATIVES.split(match.group(1))]
    fields = [p for p in parts if p and not _RELATED.search(p) and "field" not in p.lower()]
    fields = [re.sub(r"^(?:an?|the)\s+", "", f, flags=re.I) for f in fields]
    return [f for f in fields if f], related
