"""Which of a candidate's documents is the CV, and which language it is written in.

A candidate's folder may hold a CV and a cover letter (``resume.txt`` and
``cover_letter.txt``), or a CV in two formats. ``choose_cv`` reads each and scores it by its
name ("cv", "resume", "lebenslauf" against "cover", "letter", "anschreiben", "lettre") and its
content (the CV headings it has against a letter's salutation and closing); the best is
screened, and a note says which kind of document was and which were not (by kind, never by
file name, which is often the candidate's). ``language_note`` says when a CV is not in
English: the sentence encoder and the requirement lemmas are English, so such a CV scores
lower than the same CV in English; years of experience are read in ``YEAR_LANGUAGES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmfuse.errors import InputError
from mmfuse.tasks.screening.date_words import YEAR_LANGUAGES
from mmfuse.tasks.screening.sections import split_sections
from mmfuse.types import media_kind

CV_NAME = re.compile(
    r"(?:^|[^a-z])(?:cv|resume|résumé|lebenslauf|curriculum|vitae)(?:[^a-z]|$)", re.I
)
LETTER_NAME = re.compile(r"cover|letter|anschreiben|motivation|lettre", re.I)
SALUTATION = re.compile(
    r"^\s*(?:dear\b|to whom it may concern|sehr geehrte|madame|monsieur|bonjour)", re.I | re.M
)
CLOSING = re.compile(
    r"^\s*(?:(?:kind|best|warm)\s+regards|yours\s+(?:sincerely|faithfully|truly)|sincerely"
    r"|mit\s+freundlichen\s+gr(?:ü|ue)(?:ß|ss)en|cordialement|veuillez\s+agr[ée]er)",
    re.I | re.M,
)
NAME_WEIGHT = 3  # a name that says CV or letter outweighs a heading or two
LETTER_WEIGHT = 2  # a salutation, a closing
LANGUAGE_SAMPLE = 5_000  # characters of a CV its language is told from
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "nl": "Dutch", "pt": "Portuguese", "pl": "Polish", "sv": "Swedish", "da": "Danish",
    "no": "Norwegian", "fi": "Finnish", "cs": "Czech", "ro": "Romanian", "tr": "Turkish",
    "ru": "Russian", "uk": "Ukrainian", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
    "ar": "Arabic", "hi": "Hindi", "vi": "Vietnamese",
}  # fmt: skip


@dataclass(frozen=True)
class Document:
    """A candidate's document read, with what it looks like."""

    path: Path
    text: str
    score: int  # higher: more like a CV
    letter: bool  # reads as a cover letter


def read_as(path: Path, text: str) -> Document:
    """How much ``text`` (read from ``path``) looks like a CV rather than a cover letter."""
    headings = sum(1 for kind in split_sections(text).found if kind != "other")
    named_cv, named_letter = bool(CV_NAME.search(path.stem)), bool(LETTER_NAME.search(path.stem))
    letter_marks = bool(SALUTATION.search(text)) + bool(CLOSING.search(text))
    score = NAME_WEIGHT * (named_cv - named_letter) + headings - LETTER_WEIGHT * letter_marks
    letter = not named_cv and (named_letter or (letter_marks == 2 and headings < 2))
    return Document(path, text, score, letter)


def _kind(path: Path) -> str:
    return path.suffix.lower().lstrip(".") or "no extension"


def choose_cv(paths: Sequence[Path], read: Callable[[Path], str]) -> tuple[Document, list[str]]:
    """The document of ``paths`` that reads most as a CV, and notes on the choice.

    Ties go to a PDF or DOCX before a text file, then to the first name. A document that cannot
    be read is left out with a note while another one can.

    Raises:
        InputError: no document could be read (the first one's error).
    """
    documents, notes, errors = [], [], []
    for path in paths:
        try:
            documents.append(read_as(path, read(path)))
        except InputError as error:
            errors.append(error)
    if not documents:
        raise errors[0]
    notes.extend(f"not read: {error}" for error in errors)
    documents.sort(key=lambda d: (-d.score, media_kind(d.path) != "document", d.path.name))
    chosen, others = documents[0], documents[1:]
    if others:
        left = "; ".join(
            f"{'a cover letter' if d.letter else 'another document'} ({_kind(d.path)})"
            for d in others
        )
        notes.append(
            f"screened the {_kind(chosen.path)} document that reads most as a CV (judged by "
            f"names and headings); not screened: {left}"
        )
    if chosen.letter:
        notes.append("the CV reads as a cover letter: its scores may be low")
    return chosen, notes


def language_note(language: str) -> str | None:
    """What a CV's language means for its row, or None for English (or undetermined)."""
    if language in ("en", "und"):
        return None
    name = LANGUAGE_NAMES.get(language, language)
    years = (
        "years of experience are read from its dates and stated years"
        if language in YEAR_LANGUAGES
        else "years of experience are read only from English, German or French dates and "
        "phrases, so they may be missing"
    )
    return (
        f"CV in {name} ({language}): requirements are matched with English models, so it scores "
        f"lower than the same CV in English; {years}"
    )
