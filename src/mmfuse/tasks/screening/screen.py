"""Screening one batch of CVs against one job: redact, prepare, match, score.

``Screener`` holds the job (its requirements, their lemmas and embeddings, the job's own
embedding), the redactor and the sentence encoder. ``screen`` takes the raw CV texts of a
batch and first replaces their personal data; nothing after that line sees the original text,
so the lemmatizer, the sentence encoder, the results cache, the logs and the output only ever
hold the redacted text (unless ``keep_pii``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from mmfuse.tasks.screening.matching import (
    MIN_EMBED_WORDS,
    CvEvidence,
    Match,
    content_lemmas,
    match_requirement,
    sentence_spans,
    sentence_terms,
)
from mmfuse.tasks.screening.pii import Redaction, Redactor, text_terms
from mmfuse.tasks.screening.preprocess import analyze
from mmfuse.tasks.screening.profile import highest_degree, years_of_experience
from mmfuse.tasks.screening.requirements import (
    DEGREE_NAMES,
    LANGUAGES,
    Requirement,
    extract_requirements,
)
from mmfuse.tasks.screening.scoring import CV_PARTS, WEIGHTS, document_similarity, fit_parts
from mmfuse.tasks.screening.scoring import weighted as weighted_score
from mmfuse.tasks.screening.sections import split_sections
from mmfuse.tasks.screening.skills import all_terms, find_skills
from mmfuse.tasks.screening.tokens import (
    SECTION_TIMES,
    parts_token,
    requirement_tokens,
    section_tokens,
    token_columns,
)

DECIMALS = 4
TEXT_BATCH = 256  # sentences per encoder batch
_SPOKEN = re.compile(r"\b(?:" + "|".join(LANGUAGES) + r")\b", re.I)


@dataclass(frozen=True)
class Job:
    """A job description prepared for matching.

    Attributes:
        text: the description.
        requirements: its requirements, in order.
        lemmas: each requirement's content lemmas.
        vectors: float32 [R, dim] unit embeddings of the requirements.
        vector: float32 [dim] unit embedding of the whole description.
    """

    text: str
    requirements: tuple[Requirement, ...]
    lemmas: tuple[frozenset[str], ...]
    vectors: np.ndarray
    vector: np.ndarray


@dataclass(frozen=True)
class CvResult:
    """A screened CV: the redaction, the matches and the CV parts of the score."""

    redaction: Redaction
    matches: tuple[Match, ...]
    years: float
    degree: int | None
    similarity: float
    sections: tuple[str, ...]
    tokens: dict[str, np.ndarray]  # the CV's fusion tokens (``tokens``): sections, requirements


def redact_job(text: str) -> str:
    """A job description with its personal data replaced as a CV's is (but for the header
    rule: its first line is the job's title), so that the hiring manager's name, e-mail and
    phone reach no requirement, row or summary; skills and spoken languages stay ("Native
    Spanish speaker" is a requirement, not a nationality)."""
    spans = Redactor(allow=[*all_terms(), *LANGUAGES], cv_header=False).find(text)
    pieces, last = [], 0
    for start, end, kind in spans:
        if kind in ("NRP", "LOCATION") and _SPOKEN.search(text[start:end]):
            continue
        pieces += [text[last:start], f"<{kind}>"]
        last = end
    return "".join(pieces) + text[last:]


class Screener:
    """Matches CVs against one job (see the module docstring).

    Args:
        encoder: a sentence encoder (``encode(texts) -> float32 [N, dim]`` unit rows).
        job_text: the job description.
        keep_pii: skip redaction (the manifest records it).
        as_of: the date "present" means in CV date ranges.
    """

    def __init__(self, encoder, job_text: str, keep_pii: bool = False, as_of: date | None = None):
        self.encoder = encoder
        self.keep_pii = keep_pii
        self.as_of = as_of or date.today()
        requirements = tuple(extract_requirements(job_text))
        # the job's own words are never personal data of a candidate
        allow = [*all_terms(), *job_words(requirements)]
        self.redactor = Redactor(allow=allow)
        self.speech_redactor = Redactor(allow=allow, cv_header=False)
        texts = [r.text for r in requirements]
        lemmas = tuple(frozenset(content_lemmas(t)) for t in analyze(texts)) if texts else ()
        vectors = self.encoder.encode([*texts, job_text], batch_size=TEXT_BATCH)
        self.job = Job(job_text, requirements, lemmas, vectors[:-1], vectors[-1])

    def redact(self, text: str) -> Redaction:
        """The text with its personal data replaced (as is with ``keep_pii``), and its terms."""
        return text_terms(text) if self.keep_pii else self.redactor.redact(text)

    def redact_speech(self, text: str) -> str:
        """A transcript segment's text with personal data replaced (no CV header rule)."""
        if self.keep_pii:
            return text
        return self.speech_redactor.redact(text).text

    def screen(self, texts: Sequence[str]) -> list[CvResult]:
        """Redacts, then matches and scores each CV text of a batch."""
        redactions = [self.redact(t) for t in texts]
        spans = [sentence_spans(r.text) for r in redactions]
        flat = [sentence for group in spans for _, _, sentence in group]
        dim = self.job.vector.shape[0]
        vectors = np.zeros((len(flat), dim), np.float32)
        wordy = [i for i, s in enumerate(flat) if len(s.split()) >= MIN_EMBED_WORDS]
        if wordy:
            vectors[wordy] = self.encoder.encode([flat[i] for i in wordy], batch_size=TEXT_BATCH)
        results, start = [], 0
        for redaction, group in zip(redactions, spans, strict=True):
            end = start + len(group)
            sections = split_sections(redaction.text)
            mine = vectors[start:end]
            named = [set(find_skills(sentence)) for _, _, sentence in group]
            mean = mine.sum(axis=0)
            document = mean / max(float(np.linalg.norm(mean)), 1e-12)
            cv = CvEvidence(
                sentences=[sentence for _, _, sentence in group],
                lemmas=[content_lemmas(t) for t in sentence_terms(group, redaction.terms)],
                vectors=mine,
                skills=set().union(*named) if named else set(),
                sentence_skills=named,
                years=years_of_experience(redaction.text, sections, self.as_of),
                degree=highest_degree(redaction.text, sections),
            )
            start = end
            matches = tuple(
                match_requirement(r, set(lemmas), vector, cv)
                for r, lemmas, vector in zip(
                    self.job.requirements, self.job.lemmas, self.job.vectors, strict=True
                )
            )
            similarity = document_similarity(float(document @ self.job.vector))
            section_vectors, section_kinds = section_tokens(sections, cv.sentences, mine)
            tokens = {
                token_columns("sections"): section_vectors,
                SECTION_TIMES: section_kinds,
                token_columns("requirements"): requirement_tokens(matches, self.job.vectors),
            }
            results.append(
                CvResult(
                    redaction, matches, cv.years, cv.degree, similarity, sections.found, tokens
                )
            )
        return results


def job_words(requirements: Sequence[Requirement]) -> list[str]:
    """The capitalised words of the requirements (skill names the lexicon may lack)."""
    return sorted(
        {w.strip(",.;:()") for r in requirements for w in r.text.split() if w[:1].isupper()}
    )


def cv_columns(result: CvResult, relevance: float | None) -> dict:
    """The CV and score columns of a candidate's row."""
    matches = result.matches
    parts = fit_parts(matches, result.similarity, relevance)
    must = [m for m in matches if m.requirement.must]
    fit = weighted_score(parts, tuple(WEIGHTS))
    cv_score = weighted_score(parts, CV_PARTS)
    return {
        "fit_score": _round(fit),
        "cv_match_score": _round(cv_score),
        "must_have_met": sum(m.met for m in must),
        "must_have_total": len(must),
        "matched_requirements": json.dumps(
            [m.to_dict() for m in matches if m.met], ensure_ascii=False
        ),
        "missing_requirements": json.dumps(
            [m.to_dict() for m in matches if not m.met], ensure_ascii=False
        ),
        "years_experience": result.years,
        "degree": DEGREE_NAMES.get(result.degree, "") if result.degree else "",
        **{name: _round(value) for name, value in parts.items()},
        "cv_sections": ",".join(result.sections),
        token_columns("parts"): parts_token(parts, fit),
        **result.tokens,
    }


def _round(value):
    return None if value is None else round(float(value), DECIMALS)
