"""Requirements out of a job description: one per requirement line, must-have or nice-to-have.

The lines read are those under a requirements-like heading ("Requirements", "Qualifications",
"Skills", "Nice to have", ...; see ``mmfuse.tasks.screening.sections``), up to the next heading (one
of
those, or of what follows a list: "What we offer", "Benefits", "Contact", "How to apply", ...)
or the first blank line after which no bullet follows: the paragraph after the last list (the
hiring manager's name and e-mail) is no requirement. A description without a requirements
heading gives every bullet or sentence that names a skill or carries a requirement cue. Each
line becomes one ``Requirement`` with:

- ``kind``: "experience" (a number of years), "degree" (a degree level), "certification",
  "language" (a spoken language), "skill" (names a skill of the lexicon) or "competency"
  (anything else: "Excellent teamwork skills", matched by lemmas and embeddings only);
- ``must``: False when the wording says so ("a plus", "preferred", "nice to have", "bonus",
  "desirable", "ideally") or the heading does ("Nice to have", "Preferred qualifications");
  True otherwise, since a requirements list is what the employer asks for ("required",
  "must", "at least", "minimum" only confirm it);
- ``skills``: the canonical skills the line names, and whether any one of them suffices
  ("such as", "like", "or", "e.g.", "one of") or each is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmfuse.tasks.screening.sections import heading_kind
from mmfuse.tasks.screening.skills import find_skills

NICE_CUES = re.compile(
    r"\b(?:a plus|plus\b|preferred|nice[- ]to[- ]have|bonus|desirable|ideally|advantage"
    r"|advantageous|not required|optional|would be great|beneficial)",
    re.I,
)
NICE_HEADINGS = re.compile(r"nice|prefer|bonus|desirable|plus|optional|ideal", re.I)
REQUIREMENT_HEADINGS = re.compile(
    r"requirement|qualification|skill|must|nice|prefer|bonus|plus|desir|ideal|need|"
    r"what you bring|what we look|looking for|you have|you bring|about you|who you are|"
    r"profile|competenc|expertise|experience",
    re.I,
)
# Headings of what follows the requirements in a job description (whole lines): they end it.
TAIL_HEADINGS = re.compile(
    r"(?:what we offer(?: you)?|we offer|our offer|what's in it for you|why (?:join )?us"
    r"|(?:our )?(?:benefits|perks|compensation|salary)(?: (?:&|and) (?:benefits|perks))?"
    r"|about us|about the (?:company|team|role)|contact(?: us)?|(?:how )?to apply|apply now"
    r"|location|equal opportunit\w+(?: employer)?)[\s!.:]*",
    re.I,
)
ANY_OF_CUES = re.compile(r"\b(?:such as|like|or|e\.g\.|one of|at least one|for example)\b", re.I)
YEARS = re.compile(r"(\d{1,2})\s*\+?\s*(?:-\s*\d{1,2}\s*)?(?:\+\s*)?(?:years?|yrs?)\b", re.I)
# Degree words -> level (1 associate, 2 bachelor, 3 master, 4 doctorate).
DEGREES = (
    (4, r"ph\.?\s?d|doctorate|doctoral|d\.?phil"),
    (3, r"master'?s?|m\.?sc|\bm\.?s\b|\bmba\b|m\.?eng|m\.?tech|\bma\b"),
    (2, r"bachelor'?s?|b\.?sc|\bb\.?s\b|\bba\b|b\.?eng|b\.?tech|b\.?a\.|undergraduate"),
    (1, r"associate'?s? degree|diploma"),
)
GENERIC_DEGREE = 2  # "a degree in computer science": a bachelor's
DEGREE_NAMES = {1: "associate", 2: "bachelor", 3: "master", 4: "doctorate"}
LANGUAGES = (
    "english", "spanish", "french", "german", "italian", "portuguese", "dutch", "mandarin",
    "chinese", "japanese", "korean", "arabic", "hindi", "russian", "polish", "swedish",
)  # fmt: skip
_LANGUAGE = re.compile(
    r"\b(?:fluen\w*|native|proficien\w*|speak\w*|written and spoken)\b.*\b(?:"
    + "|".join(LANGUAGES)
    + r")\b|\b(?:"
    + "|".join(LANGUAGES)
    + r")\b.*\b(?:fluen\w*|native|speaker|proficien\w*)",
    re.I,
)
_BULLET = re.compile(r"^\s*(?:[•*·▪◦●\-\u2013\u2014]|\d+[.)])\s*")
MIN_LINE_WORDS = 2
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.;])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Requirement:
    """One thing the job asks for.

    Attributes:
        text: the requirement line as written (bullet removed).
        kind: "experience", "degree", "certification", "language", "skill" or "competency".
        must: must-have (True) or nice-to-have (False).
        skills: canonical skill names the line names.
        any_of: one of ``skills`` suffices (else each counts).
        years: years of experience asked for (kind "experience").
        degree: degree level asked for, 1-4 (kind "degree"; ``DEGREE_NAMES``).
    """

    text: str
    kind: str
    must: bool
    skills: tuple[str, ...] = ()
    any_of: bool = False
    years: float | None = None
    degree: int | None = None
    extra: dict = field(default_factory=dict, compare=False)


def degree_level(text: str, lowest: bool = False) -> int | None:
    """The highest (a CV) or lowest (a job's "BS/MS degree") degree level a text names."""
    levels = [level for level, pattern in DEGREES if re.search(pattern, text, re.I)]
    if not levels:
        return GENERIC_DEGREE if re.search(r"\bdegree\b", text, re.I) else None
    return min(levels) if lowest else max(levels)


def _join_wrapped(lines: list[str]) -> list[str]:
    """Bulleted lines with their wrapped continuations joined ("Angu-" + "lar.js")."""
    joined: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.isdigit():
            continue
        if joined and not _BULLET.match(raw) and not joined[-1].rstrip().endswith((".", ":")):
            previous = joined[-1]
            joined[-1] = previous[:-1] + line if previous.endswith("-") else f"{previous} {line}"
        else:
            joined.append(line)
    lines = [_BULLET.sub("", line).strip() for line in joined]
    # a paragraph of requirements: one requirement per sentence
    return [sentence for line in lines for sentence in _SENTENCE_END.split(line) if sentence]


def _classify(text: str, nice_heading: bool) -> Requirement:
    main = re.sub(r"\([^)]*\)", "", text)  # "Bachelor's degree (MBA preferred)": the main ask
    must = not (nice_heading or NICE_CUES.search(main))
    skills = tuple(find_skills(text))
    any_of = bool(ANY_OF_CUES.search(text)) and len(skills) > 1
    if years := YEARS.search(text):
        return Requirement(text, "experience", must, skills, any_of, years=float(years.group(1)))
    if re.search(r"\bdegree\b|bachelor|master|ph\.?d|\bbs/ms\b|\bb\.?sc\b|\bmba\b", text, re.I):
        level = degree_level(main, lowest=True) or degree_level(text, lowest=True)
        return Requirement(text, "degree", must, skills, any_of, degree=level)
    if re.search(r"certif", text, re.I):
        return Requirement(text, "certification", must, skills, any_of)
    if _LANGUAGE.search(text):
        return Requirement(text, "language", must, skills, any_of)
    return Requirement(text, "skill" if skills else "competency", must, skills, any_of)


def _requirement_lines(text: str) -> list[tuple[str, bool]]:
    """(line, under a nice-to-have heading) for the lines under requirement-like headings."""
    picked: list[tuple[str, bool]] = []
    current: str | None = None
    block: list[str] = []

    def flush():
        if current is not None and REQUIREMENT_HEADINGS.search(current):
            nice = bool(NICE_HEADINGS.search(current))
            picked.extend((line, nice) for line in _join_wrapped(block))

    lines = text.splitlines()
    for index, line in enumerate(lines):
        if heading_kind(line) is not None or _looks_like_heading(line):
            flush()
            current, block = line.strip(), []
        elif line.strip() or not any(b.strip() for b in block):
            block.append(line)
        elif not _list_goes_on(lines[index + 1 :]):
            flush()  # a blank line after the list, and no bullet after it: the list ended
            current, block = None, []
    flush()
    return picked


def _list_goes_on(rest: list[str]) -> bool:
    """Whether the first non-blank line of ``rest`` is a bullet (a list split by a blank line
    or a page break)."""
    following = next((line for line in rest if line.strip()), "")
    return bool(_BULLET.match(following))


def _looks_like_heading(line: str) -> bool:
    """A short line ending in a colon, or a short title-case line naming requirements."""
    stripped = line.strip()
    words = stripped.rstrip(":").split()
    if not words or len(words) > 6 or _BULLET.match(line) or "(" in stripped or ")" in stripped:
        return False
    if stripped.endswith(":") or TAIL_HEADINGS.fullmatch(stripped):
        return True
    return bool(
        REQUIREMENT_HEADINGS.search(stripped) and stripped[0].isupper() and "." not in stripped
    )


def extract_requirements(text: str) -> list[Requirement]:
    """The requirements of a job description (see the module docstring), in order.

    A description with no requirement heading gives its lines that name a skill, ask for
    years or a degree, or carry a must/nice cue.
    """
    lines = _requirement_lines(text)
    if not lines:
        cues = re.compile(r"\b(?:required|must|at least|minimum|essential)\b", re.I)
        lines = [
            (line, False)
            for line in _join_wrapped(text.splitlines())
            if find_skills(line) or YEARS.search(line) or degree_level(line)
            or cues.search(line) or NICE_CUES.search(line)
        ]  # fmt: skip
    requirements, seen = [], set()
    for line, nice_heading in lines:
        line = line.strip().rstrip(".;")
        if len(line.split()) < MIN_LINE_WORDS or line.lower() in seen:
            continue
        seen.add(line.lower())
        requirements.append(_classify(line, nice_heading))
    return requirements
