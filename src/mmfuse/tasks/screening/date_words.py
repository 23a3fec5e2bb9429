"""The words of CV dates and stated experience in the languages years are read in.

Years of experience (``profile``) are read from dated positions and from stated years in
English, German and French; this module holds every language-specific word they use, so a
language is added here and nowhere else: month names and their abbreviations ("März",
"Mrz.", "févr."), the words for "present" ("heute", "aujourd'hui"), for "to" in a range
("bis", "à") and for "since" ("seit 2019", "depuis 2019"), and the phrases that state years
of experience ("10 Jahre Berufserfahrung", "plus de 8 ans d'expérience").
"""

from __future__ import annotations

import re

YEAR_LANGUAGES = ("en", "de", "fr")  # ISO 639-1 codes of the languages below
_MONTH_NAMES = (  # per month: English, German, French names and abbreviations
    "jan january januar jänner jän janvier janv",
    "feb february februar feber février févr fevrier fevr",
    "mar march märz mär mrz mars",
    "apr april avril avr",
    "may mai",
    "jun june juni juin",
    "jul july juli juillet juil",
    "aug august août aout",
    "sep sept september septembre",
    "oct october okt oktober octobre",
    "nov november novembre",
    "dec december dez dezember décembre déc",
)
MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names.split()}
# "2019 - present", "2019 - heute", "2019 - aujourd'hui", "seit 2019": the range runs to the
# reference date.
PRESENT = (
    "present", "current", "now", "today", "date",
    "heute", "jetzt", "aktuell", "dato",
    "aujourd'hui", "ce jour", "présent", "actuel", "en cours",
)  # fmt: skip
RANGE_WORDS = ("to", "until", "till", "bis", "à", "au", "jusqu'à", "jusqu'en")
# German and French CVs date the current position "seit 03/2019", "depuis 2019"; English ones
# write "2019 - present", and "since" there is more often "AWS certified since 2019".
SINCE_WORDS = ("seit", "depuis")
# Stated years of experience: "over 10 years of experience", "10+ Jahre Berufserfahrung",
# "mehr als 8 Jahren Erfahrung", "plus de 8 ans d'expérience professionnelle". The number is
# group 1.
STATED_YEARS = (
    re.compile(
        r"(?:over|more than|about|nearly|almost)?\s*(\d{1,2})\+?\s*(?:years?|yrs?)\s+(?:of\s+)?"
        r"(?:\w+\s+){0,3}?experience",
        re.I,
    ),
    re.compile(
        r"(?:über|mehr als|rund|etwa|fast|knapp)?\s*(\d{1,2})\+?\s*Jahren?\s+"
        r"(?:\w+\s+){0,3}?(?:Berufs|Projekt|Praxis|Industrie)?erfahrung",
        re.I,
    ),
    re.compile(
        r"(?:plus de|environ|près de|presque)?\s*(\d{1,2})\+?\s*(?:ans|années)\s+"
        r"d['\u2019]\s*expérience",
        re.I,
    ),
)


def month_number(word: str) -> int | None:
    """The month a name or abbreviation means (1-12) in any of ``YEAR_LANGUAGES``, or None."""
    word = word.lower().rstrip(".")
    return MONTHS.get(word) or MONTHS.get(word[:3])


def alternatives(words: tuple[str, ...]) -> str:
    """A regex group matching any of ``words`` (longest first, a space as any whitespace, an
    apostrophe as either kind)."""
    escaped = (
        re.escape(w).replace(r"\ ", r"\s+").replace("'", "['\u2019]")
        for w in sorted(words, key=len, reverse=True)
    )
    return "(?:" + "|".join(escaped) + ")"
