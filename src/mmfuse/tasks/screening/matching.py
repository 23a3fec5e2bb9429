"""Requirements met by a CV, each with the CV sentence that supports it and how it was matched.

A requirement that names skills (the skills graph, ``graph``: "SQL", "dashboards in Looker or
Tableau") is met by a CV sentence that names one of them, a synonym, or a narrower skill that
implies it ("Queried PostgreSQL and BigQuery" meets *SQL*; "Built Looker reports" meets
*dashboards*); with "such as"/"or" one of them suffices, else the share found counts. Such a
requirement is never met by similarity alone: a sentence that only shares its topic
("moving into data analytics" for *Python*) makes it ``unclear`` at most, for a person to look.

A requirement that names no skill of the graph ("Excellent teamwork skills") is met by

- **words**: the share of its content lemmas (spaCy tokens, stop words and generic job-ad words
  dropped: "experience", "knowledge", "strong") that one CV sentence holds, a bag-of-words
  overlap ("developed web applications" meets "web application development");
- **meaning**: the cosine of its sentence embedding with a CV sentence's, mapped to [0, 1]
  between ``COSINE_FLOOR`` (unrelated) and ``COSINE_FULL`` (a paraphrase), so "managed a team
  of five" meets "team leadership"; a meaning score under ``STRONG_MEANING`` leaves it
  ``unclear``.

Years of experience count only the roles relevant to the requirement's field (``profile``),
degrees their level and field (an adjacent field is ``unclear``, half the score). Each match
says how it was made (``how``): exact, synonym, implied, words, similar, years, degree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from mmfuse.tasks.screening.graph import Mention, load_graph
from mmfuse.tasks.screening.requirements import Requirement
from mmfuse.tasks.screening.skills import find_skills

# MiniLM cosines (all-MiniLM-L6-v2): unrelated CV and job-ad sentences sit around 0.1-0.3,
# paraphrases ("led a team of five engineers" / "team leadership") above 0.55.
COSINE_FLOOR = 0.3
COSINE_FULL = 0.65
MET_SCORE = 0.6
# A requirement met by meaning alone needs this much (cosine ~0.6: a paraphrase); between
# MET_SCORE and it, and for a skill requirement whatever the similarity, it is unclear.
STRONG_MEANING = 0.85
UNCLEAR_SCORE = 0.4  # at most what an unclear call adds to a coverage part
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
ANY_OF = re.compile(r"\b(?:such as|like|or|e\.g\.|one of|at least one|for example)\b|\(", re.I)
_SPLIT = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9•])|\n\s*[•*·▪◦●\-\u2013\u2014]\s*|\n(?=\s*[A-Z0-9])")


@dataclass(frozen=True)
class Match:
    """How one requirement fares against one CV.

    Attributes:
        requirement: the requirement.
        score: in [0, 1]: its strongest evidence.
        met: ``status == "met"``.
        evidence: the supporting CV sentence ("" when nothing supports it).
        found: the requirement's skills the CV names (or implies).
        status: "met", "unclear" (a person should look) or "missing".
        how: how it was matched: "exact", "synonym", "implied", "words", "similar", "years",
            "degree", "adjacent field" ("" when nothing matched).
        via: the path of an implied or synonym match ("PostgreSQL -> SQL"), or what was
            compared ("5.2 relevant years of 3").
        terms: the CV's words the evidence holds for it (the skill names).
    """

    requirement: Requirement
    score: float
    evidence: str
    found: tuple[str, ...]
    status: str
    how: str = ""
    via: str = ""
    terms: tuple[str, ...] = ()

    @property
    def met(self) -> bool:
        return self.status == "met"

    def to_dict(self) -> dict:
        """A JSON-ready record: requirement, kind, must, status, how, score, evidence, skills."""
        return {
            "requirement": self.requirement.text,
            "kind": self.requirement.kind,
            "must": self.requirement.must,
            "status": self.status,
            "how": self.how,
            "via": self.via,
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
        years: years of experience; degree: highest degree level (None: none found).
        sentence_skills: the skills each sentence names.
        mentions: the skills graph's names in each sentence (None: found here).
        years_for: requirement text -> (relevant years, evidence) (``profile``); a
            requirement not in it is compared with ``years``.
        degree_for: requirement text -> (score, how, evidence) of the CV's best degree.
    """

    sentences: list[str]
    lemmas: list[set[str]]
    vectors: np.ndarray
    skills: set[str]
    years: float
    degree: int | None
    sentence_skills: list[set[str]] | None = None
    mentions: list[list[Mention]] | None = None
    years_for: dict[str, tuple[float, str]] = field(default_factory=dict)
    degree_for: dict[str, tuple[float, str, str]] = field(default_factory=dict)

    def __post_init__(self):
        if self.mentions is None:
            graph = load_graph()
            self.mentions = [graph.mentions(s) for s in self.sentences]


_PURPOSE = re.compile(r"\s(?:for|to)\s", re.I)


@lru_cache(maxsize=1024)
def asked_skills(text: str) -> tuple[str, ...]:
    """The skills a requirement line asks for, by the skills graph.

    What follows "for"/"to" is the purpose, not the ask ("Python for data analysis" asks
    Python) when what precedes names a skill. The graph's related skills are preferred; a
    line naming none of them asks for the vocabulary names it holds that read as names
    (several words, a capital, a symbol: "Google Tag Manager", "dbt"-like ones).
    """
    graph = load_graph()
    mentions = graph.mentions(text)
    cut = _PURPOSE.search(text)
    if cut:
        head = graph.mentions(text[: cut.start()])
        if any(m.known for m in head):
            mentions = head
    known = [m.skill for m in mentions if m.known]
    if known:
        return tuple(dict.fromkeys(known))
    named = [
        m.skill for m in mentions if " " in m.text or not m.text.isalpha() or m.text[:1].isupper()
    ]
    return tuple(dict.fromkeys(named))


def _graph_match(
    asked: Sequence[str], any_of: bool, cv: CvEvidence
) -> tuple[float, str, str, str, tuple[str, ...], tuple[str, ...]]:
    """(score, how, via, evidence, terms, found) of the asked skills in the CV's sentences."""
    graph = load_graph()
    best: dict[str, tuple[int, str, str, int, str]] = {}  # skill -> rank, how, via, index, term
    rank = {"exact": 0, "synonym": 0, "implied": 1}  # a name of the skill, first in the CV
    for index, mentions in enumerate(cv.mentions or ()):
        for mention in mentions:
            for skill in asked:
                relation = graph.relation(skill, mention)
                if relation is None:
                    continue
                how, path = relation
                candidate = (rank[how], how, " -> ".join(dict.fromkeys(path)), index, mention.text)
                if skill not in best or candidate[0] < best[skill][0]:
                    best[skill] = candidate
    if not best:
        return 0.0, "", "", "", (), ()
    found = tuple(s for s in asked if s in best)
    score = 1.0 if any_of else len(found) / len(asked)
    first = min(best.values())
    sentence = first[3]
    terms = tuple(dict.fromkeys(b[4] for b in best.values() if b[3] == sentence))
    return score, first[1], first[2], cv.sentences[sentence], terms, found


def _skill_evidence(cv: CvEvidence, skills: Sequence[str]) -> str:
    named = cv.sentence_skills or [set(find_skills(s)) for s in cv.sentences]
    for sentence, found in zip(cv.sentences, named, strict=True):
        if found & set(skills):
            return sentence
    return ""


def _text_match(lemmas: set[str], vector: np.ndarray, cv: CvEvidence) -> tuple[float, str, str]:
    """(score, how, evidence) of the best sentence by words or meaning."""
    if not cv.sentences:
        return 0.0, "", ""
    overlap = np.array([len(lemmas & s) / len(lemmas) if lemmas else 0.0 for s in cv.lemmas])
    meaning = meaning_score(cv.vectors @ vector)
    scores = np.maximum(overlap, meaning)
    best = int(np.argmax(scores))
    how = "words" if overlap[best] >= meaning[best] else "similar"
    return float(scores[best]), how, cv.sentences[best]


def match_requirement(
    requirement: Requirement, lemmas: set[str], vector: np.ndarray, cv: CvEvidence
) -> Match:
    """Scores one requirement (its content lemmas and unit vector) against a prepared CV."""
    if requirement.kind == "experience" and requirement.years:
        years, evidence = cv.years_for.get(
            requirement.text, (cv.years, f"{cv.years:g} years of dated or stated experience")
        )
        score = min(1.0, years / requirement.years)
        status = "met" if score >= 1.0 else "missing"
        via = f"{years:g} relevant years of {requirement.years:g}"
        return Match(requirement, score, evidence, (), status, "years", via)
    if requirement.kind == "degree":
        return _degree_match(requirement, lemmas, vector, cv)
    asked = asked_skills(requirement.text)
    text_score, text_how, text_evidence = _text_match(lemmas, vector, cv)
    if asked:
        any_of = bool(ANY_OF.search(requirement.text)) and len(asked) > 1
        score, how, via, evidence, terms, found = _graph_match(asked, any_of, cv)
        if score >= MET_SCORE:
            return Match(requirement, score, evidence, found, "met", how, via, terms)
        if score > 0:  # some of the skills asked for each
            return Match(requirement, score, evidence, found, "unclear", how, via, terms)
        # named skills not found: the requirement's own words in a sentence meet a name of
        # the vocabulary (a skill without relations), similarity alone never does
        graph_known = any(skill in load_graph().implies for skill in asked)
        if text_score >= MET_SCORE and text_how == "words" and not graph_known:
            return Match(requirement, text_score, text_evidence, (), "met", "words")
        if text_score >= MET_SCORE:
            unclear = min(text_score, UNCLEAR_SCORE)
            return Match(requirement, unclear, text_evidence, (), "unclear", text_how)
        return Match(requirement, 0.0, "", (), "missing")
    found = tuple(s for s in requirement.skills if s in cv.skills)
    if requirement.skills and found:  # a lexicon skill the graph lacks
        share = 1.0 if requirement.any_of else len(found) / len(requirement.skills)
        if share >= text_score:
            evidence = _skill_evidence(cv, found) or text_evidence
            status = "met" if share >= MET_SCORE else "unclear"
            return Match(requirement, share, evidence, found, status, "exact")
    if text_score >= MET_SCORE and (text_how == "words" or text_score >= STRONG_MEANING):
        return Match(requirement, text_score, text_evidence, found, "met", text_how)
    if text_score >= MET_SCORE:
        unclear = min(text_score, UNCLEAR_SCORE)
        return Match(requirement, unclear, text_evidence, found, "unclear", text_how)
    evidence = text_evidence if text_score >= 0.1 else ""
    return Match(requirement, text_score, evidence, found, "missing", text_how)


def _degree_match(
    requirement: Requirement, lemmas: set[str], vector: np.ndarray, cv: CvEvidence
) -> Match:
    if requirement.text in cv.degree_for:
        score, how, evidence = cv.degree_for[requirement.text]
    else:  # the level alone
        asked, have = requirement.degree or 1, cv.degree or 0
        score = 1.0 if have >= asked else 0.5 if have == asked - 1 else 0.0
        how, evidence = "degree", _text_match(lemmas, vector, cv)[2] if have else ""
    status = "met" if score >= MET_SCORE else "unclear" if score > 0 else "missing"
    return Match(requirement, score, evidence, (), status, how)
