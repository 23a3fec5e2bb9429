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
