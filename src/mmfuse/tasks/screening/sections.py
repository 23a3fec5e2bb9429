"""CV and job-description sections from the text's own headings.

A heading is a short line (at most ``MAX_HEADING_WORDS`` words, an optional trailing colon)
whose words name a known section: "Work Experience", "EDUCATION", "Technical Skills:". The
text between two headings belongs to the first one's section ("Skills: Python, SQL" is a
heading and its first line); text before the first heading
(a CV's name and contact lines) is the ``header``. Sections are folded into the four kinds a
screening reads (``experience``, ``education``, ``skills``, ``other``); a document without
any recognised heading is all ``other``, which is what "where the layout allows" comes to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECTION_KINDS = ("experience", "education", "skills", "other")
MAX_HEADING_WORDS = 5
# Heading words -> section kind (matched on the lowercased heading without punctuation).
HEADINGS = {
    "experience": (
        "experience", "work experience", "professional experience", "employment",
        "employment history", "work history", "career history", "relevant experience",
        "professional background", "career", "positions held", "projects", "personal projects",
        "work", "professional history", "internships", "internship", "selected projects",
        "key projects", "responsibilities",
    ),
    "education": (
        "education", "academic background", "qualifications", "education and training",
        "academic qualifications", "degrees", "certifications", "certificates", "training",
        "licenses and certifications", "courses",
    ),
    "skills": (
        "skills", "technical skills", "core competencies", "competencies", "key skills",
        "technologies", "tools", "skills and tools", "languages", "tech stack", "expertise",
        "areas of expertise", "skills summary", "requirements", "qualifications required",
        "core skills", "technical proficiencies", "technical expertise", "tools and technologies",
        "programming languages", "software", "it skills", "key qualifications",
        "what you bring", "must have", "nice to have", "preferred qualifications",
    ),
    "other": (
        "summary", "professional summary", "profile", "objective", "about me", "about",
        "interests", "hobbies", "references", "publications", "awards", "achievements",
        "volunteering", "volunteer experience", "contact", "personal details",
        "personal information", "about us", "job description", "benefits", "how to apply",
    ),
}  # fmt: skip
_KIND_OF = {heading: kind for kind, names in HEADINGS.items() for heading in names}
_CLEAN = re.compile(r"[^a-z& ]+")
# "Skills: Python, SQL": a heading and its first line of content on one line.
_INLINE_HEADING = re.compile(r"^\s*([A-Za-z][A-Za-z &/]{2,40}):\s+(\S.*)$")


@dataclass(frozen=True)
class Sections:
    """A document cut at its headings.

    Attributes:
        header: text before the first heading (a CV's name and contact lines).
        parts: ``(kind, heading, body)`` in document order; kind in ``SECTION_KINDS``.
    """

    header: str
    parts: tuple[tuple[str, str, str], ...]

    def text_of(self, kind: str) -> str:
        """All bodies of one section kind, joined by blank lines ("" when absent)."""
        return "\n\n".join(body for k, _, body in self.parts if k == kind)

    @property
    def found(self) -> tuple[str, ...]:
        """The section kinds that have a heading in the document, in ``SECTION_KINDS`` order."""
        kinds = {k for k, _, _ in self.parts}
        return tuple(k for k in SECTION_KINDS if k in kinds)


def heading_kind(line: str) -> str | None:
    """The section kind a line announces when it is a heading, else None."""
    stripped = line.strip().strip("•-\u2013\u2014*#:").strip()
    if (
        not stripped
        or len(stripped.split()) > MAX_HEADING_WORDS
        or stripped.endswith(".")
        or any(c in stripped for c in "()[]")
    ):
        return None
    key = " ".join(_CLEAN.sub(" ", stripped.lower().replace(" and ", " & ")).split())
    key = key.replace("&", "and")
    return _KIND_OF.get(key)


def split_sections(text: str) -> Sections:
    """Cuts ``text`` at its heading lines (see the module docstring)."""
    header: list[str] = []
    parts: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        kind = heading_kind(line)
        inline = _INLINE_HEADING.match(line) if kind is None else None
        if inline and (inline_kind := heading_kind(inline.group(1))) is not None:
            parts.append((inline_kind, inline.group(1).strip(), [inline.group(2)]))
        elif kind is not None:
            parts.append((kind, line.strip(), []))
        elif parts:
            parts[-1][2].append(line)
        else:
            header.append(line)
    return Sections(
        "\n".join(header).strip(),
        tuple((kind, heading, "\n".join(body).strip()) for kind, heading, body in parts),
    )


def header_end(text: str, max_lines: int = 12) -> int:
    """Character offset where a document's header ends: its first heading, or ``max_lines``."""
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        if number >= max_lines or heading_kind(line) is not None:
            return offset
        offset += len(line)
    return offset
