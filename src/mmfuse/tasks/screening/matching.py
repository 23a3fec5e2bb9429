"""Requirements met by a CV, each with the CV sentence that supports it.

A requirement is met by three kinds of evidence, the strongest one counting:

- **names**: the skills it names (``mmfuse.tasks.screening.skills``: "k8s" is Kubernetes, "Python 3"
is
  Python) found anywhere in the CV; with "such as"/"or" one of them suffices, else the share
  found counts;
- **words**: the share of its content lemmas (spaCy tokens, stop words and generic job-ad words
  dropped: "experience", "knowledge", "strong") that one CV sentence holds, a bag-of-words
  overlap ("developed web applications" meets "web application development");
- **meaning**: the cosine of its sentence embedding with a CV sentence's, mapped to [0, 1]
  between ``COSINE_FLOOR`` (unrelated) and ``COSINE_FULL`` (a paraphrase), so "managed a team
  of five" meets "team leadership".

Years of experience and degree levels are compared as numbers: the share of the years asked
for, and 1 for the degree level asked for or above (0.5 one level below). A requirement is
met when its score reaches ``MET_SCORE``. Each match keeps the sentence with the best
evidence: the first CV sentence naming a found skill, else the best word or meaning match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmfuse.tasks.screening.requirements import Requirement
from mmfuse.tasks.screening.skills import find_skills

# MiniLM cosines (all-MiniLM-L6-v2): unrelated CV and job-ad sentences sit around 0.1-0.3,
# paraphrases ("led a team of five engineers" / "team leadership") above 0.55.
COSINE_FLOOR = 0.3
COSINE_FULL = 0.65
MET_SCORE = 0.6
MAX_SENTENCES = 120  # CV sentences read (a CV longer than ~8 pages is cut)
MIN_SENTENCE_CHARS = 3
# Sentences of fewer words are not embedded (skill lists, dates, headings: names and lemmas
# match those), which saves a third of the encoder's time on a typical CV.
MIN_EMBED_WORDS = 4
# Words of job ads that say how much, not what: dropped from a requirement's content lemmas.
GENERIC_LEMMAS = frozenset(
    (
        "experience", "year", "knowledge", "proficiency", "proficient", "familiarity", "familiar",
        "strong", "excellent", "good", "solid", "skill", "ability", "able", "demonstrate",
        "demonstrated", "proven", "understanding", "work", "working", "hand", "hands-on", "use",
        "using", "including", "include", "etc", "similar", "related", "field", "role", "plus",
        "preferred", "required", "must", "least", "minimum", "nice", "have", "bonus", "ideally",
        "level", "high", "highly", "great", "deep", "profound", "insight", "modern", "popular",
        "common", "fundamental", "relevant", "candidate", "successful",
    )
)  # fmt: skip
_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9•])|\n\s*[•*·▪◦●\-\u2013\u2014]\s*|\n(?=\s*[A-Z0-9])")


@dataclass(frozen=True)
class Match:
    """How one requirement fares against one CV.

    Attributes:
        requirement: the requirement.
        score: in [0, 1]: its strongest evidence.
        met: ``score >= MET_SCORE``.
        evidence: the supporting CV sentence ("" when nothing supports it).
        found: the requirement's skills the CV names.
    """

    requirement: Requirement
    score: float
    met: bool
    evidence: str
    found: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-ready record: requirement, kind, must, score, evidence, found skills."""
        return {
            "requirement": self.requirement.text,
            "kind": self.requirement.kind,
            "must": self.requirement.must,
            "score": round(self.score, 3),
            "evidence": self.evidence,
            "skills": list(self.found),
        }


def sentence_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, sentence)`` of the sentences, bullets and lines of a CV (whitespace
    collapsed in ``sentence``), at most ``MAX_SENTENCES``."""
    spans, start = [], 0
    for separator in [*_SPLIT.finditer(text), None]:
        end = separator.start() if separator else len(text)
        sentence = " ".join(text[start:end].split())
        if len(sentence) >= MIN_SENTENCE_CHARS:
            spans.append((start, end, sentence))
        start = separator.end() if separator else end
    return spans[:MAX_SENTENCES]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``sentence_spans``."""
    return [sentence for _, _, sentence in sentence_spans(text)]


def sentence_terms(
    spans: Sequence[tuple[int, int, str]], terms: Sequence[tuple[int, str]]
) -> list[list[str]]:
    """The terms (``(offset, lemma)``, in offset order) that fall in each span."""
    out: list[list[str]] = [[] for _ in spans]
    index = 0
    for offset, term in terms:
        while index < len(spans) and spans[index][1] <= offset:
            index += 1
        if index == len(spans):
            break
        if spans[index][0] <= offset:
            out[index].append(term)
    return out


def content_lemmas(terms: Sequence[str]) -> set[str]:
    """The lemmas that say what is asked: ``preprocess.analyze`` terms less generic ones."""
    return {t for t in terms if t not in GENERIC_LEMMAS and not t.isdigit() and len(t) > 1}


def meaning_score(cosine: np.ndarray) -> np.ndarray:
    """Cosines mapped linearly to [0, 1] between ``COSINE_FLOOR`` and ``COSINE_FULL``."""
    return np.clip((cosine - COSINE_FLOOR) / (COSINE_FULL - COSINE_FLOOR), 0.0, 1.0)


@dataclass
class CvEvidence:
    """A CV prepared for matching.

    Attributes:
        sentences: S sentences (``split_sentences``).
        lemmas: the content lemmas of each sentence.
        vectors: float32 [S, dim] unit sentence embeddings (zero for a sentence too short to
            embed: a list of skills, a date line).
        skills: canonical skills the whole CV names.
        sentence_skills: the skills each sentence names.
        years: years of experience; degree: highest degree level (None: none found).
    """

    sentences: list[str]
    lemmas: list[set[str]]
    vectors: np.ndarray
    skills: set[str]
    years: float
    degree: int | None
    sentence_skills: list[set[str]] | None = None


def _skill_evidence(cv: CvEvidence, skills: Sequence[str]) -> str:
    named = cv.sentence_skills or [set(find_skills(s)) for s in cv.sentences]
    for sentence, found in zip(cv.sentences, named, strict=True):
        if found & set(skills):
            return sentence
    return ""


def match_requirement(
    requirement: Requirement, lemmas: set[str], vector: np.ndarray, cv: CvEvidence
) -> Match:
    """Scores one requirement (its content lemmas and unit vector) against a prepared CV."""
    if cv.sentences:
        overlap = np.array([len(lemmas & s) / len(lemmas) if lemmas else 0.0 for s in cv.lemmas])
        meaning = meaning_score(cv.vectors @ vector)
        text_scores = np.maximum(overlap, meaning)
        best = int(np.argmax(text_scores))
        text_score, text_evidence = float(text_scores[best]), cv.sentences[best]
    else:
        text_score, text_evidence = 0.0, ""
    found = tuple(s for s in requirement.skills if s in cv.skills)
    score, evidence = text_score, text_evidence
    if requirement.skills:
        share = (
            (1.0 if found else 0.0) if requirement.any_of else len(found) / len(requirement.skills)
        )
        if share >= score:
            score, evidence = share, _skill_evidence(cv, found) or text_evidence
    if requirement.kind == "experience" and requirement.years:
        score = min(1.0, cv.years / requirement.years)
        evidence = f"{cv.years:g} years of dated or stated experience"
    elif requirement.kind == "degree":
        asked = requirement.degree or 1
        have = cv.degree or 0
        score = 1.0 if have >= asked else 0.5 if have == asked - 1 else 0.0
        evidence = text_evidence if have else ""
    if score < 0.1:
        evidence = ""
    return Match(requirement, float(score), score >= MET_SCORE, evidence, found)
