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
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from mmfuse.tasks.screening.graph import load_graph
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
from mmfuse.tasks.screening.profile import (
    Degree,
    Role,
    degree_fields,
    degrees,
    experience_field,
    field_alternatives,
    highest_degree,
    merged_years,
    names_field,
    roles,
    stated_years,
    years_of_experience,
)
from mmfuse.tasks.screening.requirements import (
    DEGREE_NAMES,
    LANGUAGES,
    Requirement,
    extract_requirements,
)
from mmfuse.tasks.screening.role import (
    ROLE_SKILL_HITS,
    AdRole,
    role_cosine,
    role_of,
    role_skills,
    skill_hits,
    windows,
)
from mmfuse.tasks.screening.scoring import (
    CV_PARTS,
    FULL_AD_REQUIREMENTS,
    WEIGHTS,
    document_similarity,
    fit_parts,
    short_ad_cosine,
)
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
# MiniLM cosines of a role's title with a requirement's field ("Junior Analyst" / "data
# analysis" ~0.6, "History Teacher" / "data analysis" ~0.2), and of two degree fields
# ("Software Engineering" / "Computer Science" ~0.6, "History" / "Economics" ~0.4).
ROLE_COSINE = 0.55
ADJACENT_FIELD_COSINE = 0.55
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
        fields: requirement text -> ``Field`` of its experience or degree requirements.
    """

    text: str
    requirements: tuple[Requirement, ...]
    lemmas: tuple[frozenset[str], ...]
    vectors: np.ndarray
    vector: np.ndarray
    fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Field:
    """What an experience or a degree requirement is in.

    Attributes:
        names: the field's alternatives as written ("data analysis or marketing analytics";
            a degree's "Statistics", "Economics", "Computer Science"); empty: any field.
        stems: each alternative's word stems (``profile.field_alternatives``).
        skills: the skills graph's skills the field names.
        vectors: float32 [F, dim] unit embeddings of ``names``.
        related: a related field is asked for too ("or a related field").
    """

    names: tuple[str, ...]
    stems: list[list[str]]
    skills: frozenset[str]
    vectors: np.ndarray
    related: bool = False


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
        asked = _field_names(requirements)
        names = [name for _, names, _ in asked for name in names]
        short = len(requirements) < FULL_AD_REQUIREMENTS  # the ad says little but the role
        role = [role_of(job_text)] if short else []
        vectors = self.encoder.encode([*texts, job_text, *names, *role], batch_size=TEXT_BATCH)
        self.role = AdRole(role[0], vectors[-1], role_skills(role[0])) if short else None
        fields, start = {}, len(texts) + 1
        graph = load_graph()
        for text, names, related in asked:
            stems = [stem for name in names for stem in field_alternatives(name)]
            skills = frozenset(m.skill for n in names for m in graph.mentions(n) if m.known)
            end = start + len(names)
            fields[text] = Field(tuple(names), stems, skills, vectors[start:end], related)
            start = end
        n = len(texts)
        self._experience_texts = {r.text for r in requirements if r.kind == "experience"}
        self.job = Job(job_text, requirements, lemmas, vectors[:n], vectors[n], fields)

    def redact(self, text: str) -> Redaction:
        """The text with its personal data replaced (as is with ``keep_pii``), and its terms."""
        return text_terms(text) if self.keep_pii else self.redactor.redact(text)

    def redact_speech(self, text: str) -> str:
        """A transcript segment's text with personal data replaced (no CV header rule)."""
        if self.keep_pii:
            return text
        return self.speech_redactor.redact(text).text

    def _undecided(
        self, roles_of: Sequence[Sequence[Role]], degrees_of: Sequence[Sequence[Degree]]
    ) -> list[str]:
        """The role titles and degree fields that only their meaning can place in an asked
        field (those whose words or skills do are not embedded)."""
        pending: set[str] = set()
        for text, asked in self.job.fields.items():
            if not asked.names:
                continue
            if text in self._experience_texts:
                pending.update(
                    role.title
                    for cv_roles in roles_of
                    for role in cv_roles
                    if not role.training and not _named_in_field(role.text, asked)
                )
            else:
                pending.update(
                    degree.field or degree.line
                    for cv_degrees in degrees_of
                    for degree in cv_degrees
                    if not names_field(degree.field, asked.stems)
                )
        return sorted(pending)

    def screen(self, texts: Sequence[str]) -> list[CvResult]:
        """Redacts, then matches and scores each CV text of a batch."""
        redactions = [self.redact(t) for t in texts]
        spans = [sentence_spans(r.text) for r in redactions]
        sections_of = [split_sections(r.text) for r in redactions]
        roles_of = [
            roles(_experience_text(r.text, sections), self.as_of)
            for r, sections in zip(redactions, sections_of, strict=True)
        ]
        degrees_of = [degrees(r.text, s) for r, s in zip(redactions, sections_of, strict=True)]
        short = self._undecided(roles_of, degrees_of)  # titles and fields: by meaning
        flat = [sentence for group in spans for _, _, sentence in group]
        dim = self.job.vector.shape[0]
        vectors = np.zeros((len(flat), dim), np.float32)
        wordy = [i for i, s in enumerate(flat) if len(s.split()) >= MIN_EMBED_WORDS]
        meaning: dict[str, np.ndarray] = {}
        if wordy or short:  # one encoder call for the batch's sentences, titles and fields
            texts_to_embed = [*(flat[i] for i in wordy), *short]
            encoded = self.encoder.encode(texts_to_embed, batch_size=TEXT_BATCH)
            vectors[wordy] = encoded[: len(wordy)]
            meaning = dict(zip(short, encoded[len(wordy) :], strict=True))
        whole = None  # a short ad: the whole CVs and their windows are compared with its role
        if self.role is not None:
            windows_of = [windows(r.text) for r in redactions]
            # a window that is a sentence embedded above is not embedded again
            window_vectors = {flat[i]: vectors[i] for i in wordy}
            new = sorted({w for group in windows_of for w in group} - window_vectors.keys())
            encoded = self.encoder.encode(
                [*(r.text for r in redactions), *new], batch_size=TEXT_BATCH
            )
            whole = encoded[: len(redactions)]
            window_vectors.update(zip(new, encoded[len(redactions) :], strict=True))
        results, start = [], 0
        for redaction, group, sections, cv_roles, cv_degrees in zip(
            redactions, spans, sections_of, roles_of, degrees_of, strict=True
        ):
            end = start + len(group)
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
            for requirement in self.job.requirements:
                asked = self.job.fields.get(requirement.text)
                if asked is None:
                    continue
                if requirement.kind == "experience":
                    cv.years_for[requirement.text] = relevant_years(
                        asked, cv_roles, meaning, redaction.text
                    )
                else:
                    cv.degree_for[requirement.text] = degree_fit(
                        requirement, asked, cv_degrees, meaning
                    )
            start = end
            matches = tuple(
                match_requirement(r, set(lemmas), vector, cv)
                for r, lemmas, vector in zip(
                    self.job.requirements, self.job.lemmas, self.job.vectors, strict=True
                )
            )
            cosine = float(document @ self.job.vector)
            if self.role is not None:
                index = len(results)
                cosine = float(whole[index] @ self.job.vector)
                skills = None  # a role naming no skill of the graph: left out
                if self.role.skills:
                    hits = skill_hits(self.role.skills, redaction.text)
                    skills = min(hits, ROLE_SKILL_HITS) / ROLE_SKILL_HITS
                cosine = short_ad_cosine(
                    cosine,
                    role_cosine(self.role, [window_vectors[w] for w in windows_of[index]], cosine),
                    skills,
                )
            similarity = document_similarity(cosine)
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


def _field_names(requirements: Sequence[Requirement]) -> list[tuple[str, list[str], bool]]:
    """(requirement text, field names, related asked) of the experience and degree
    requirements."""
    asked = []
    for requirement in requirements:
        if requirement.kind == "experience" and requirement.years:
            name = experience_field(requirement.text)  # "data analysis or marketing analytics"
            names = [n for n in re.split(r"\s*(?:,|;|\bor\b)\s*", name) if n.strip()]
            asked.append((requirement.text, names, False))
        elif requirement.kind == "degree":
            asked.append((requirement.text, *degree_fields(requirement.text)))
    return asked


def _experience_text(text: str, sections) -> str:
    """The experience section, or the CV less its education section without one."""
    experience = sections.text_of("experience")
    if experience:
        return experience
    education = sections.text_of("education")
    return text.replace(education, "") if education else text


def _named_in_field(text: str, asked: Field) -> bool:
    """Whether a role (its title and duties) or a sentence names the asked field: its title
    holds the field's words, or it names a skill of the field or one implying it."""
    if not asked.names or names_field(text.split("\n")[0], asked.stems):
        return True
    graph = load_graph()
    for mention in graph.mentions(text):
        if mention.skill in asked.skills or asked.skills & graph.broader(mention.skill).keys():
            return True
    return False


def _means(asked: Field, vector: np.ndarray | None, cosine: float) -> bool:
    """Whether a title's embedding is that close to one of the field's names."""
    return vector is not None and bool((asked.vectors @ vector).max() >= cosine)


def relevant_years(
    asked: Field, cv_roles: Sequence[Role], meaning: dict[str, np.ndarray], text: str
) -> tuple[float, str]:
    """Years of the roles in the asked field (by words, skills, or a title of its meaning;
    overlaps merged; training is not experience), or the years a sentence in the field
    states, the larger; and the roles counted."""
    relevant = [
        role
        for role in cv_roles
        if not role.training
        and (
            _named_in_field(role.text, asked) or _means(asked, meaning.get(role.title), ROLE_COSINE)
        )
    ]
    dated = merged_years([(r.start, r.end) for r in relevant])
    stated = [(y, s) for y, s in stated_years(text) if _named_in_field(s, asked)]
    best_stated = max(stated, default=(0.0, ""))
    if best_stated[0] > dated:
        return round(best_stated[0], 1), best_stated[1]
    evidence = "; ".join(r.title for r in relevant) if relevant else "no role in this field"
    return round(dated, 1), evidence


def degree_fit(
    requirement: Requirement,
    asked: Field,
    cv_degrees: Sequence[Degree],
    meaning: dict[str, np.ndarray],
) -> tuple[float, str, str]:
    """(score, how, evidence) of the CV's degree that best meets a degree requirement: its
    level (1 at or above the level asked, 0.5 one below) times its field (1 in a field asked
    for or, when a related field is, an adjacent one; 0.5 in an adjacent field otherwise)."""
    best = (0.0, "", "")
    asked_level = requirement.degree or 1
    for degree in cv_degrees:
        level = (
            1.0 if degree.level >= asked_level else 0.5 if degree.level == asked_level - 1 else 0
        )
        how = "degree"
        if asked.names and not names_field(degree.field, asked.stems):
            vector = meaning.get(degree.field or degree.line)
            adjacent = _means(asked, vector, ADJACENT_FIELD_COSINE)
            field_score = (1.0 if asked.related else 0.5) if adjacent else 0.0
            how = "adjacent field" if adjacent else "other field"
        else:
            field_score = 1.0
        if level * field_score > best[0] or not best[2]:
            best = (level * field_score, how, degree.line)
    return best


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
    fit = weighted_score(parts, tuple(WEIGHTS), len(matches))
    cv_score = weighted_score(parts, CV_PARTS, len(matches))
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
