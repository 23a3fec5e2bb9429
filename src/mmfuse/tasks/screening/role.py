"""What a short ad says: the role it names, and how much of a CV is about that role.

An ad of one line ("We are hiring a Java Developer.", or just "Java Developer") names a role
and nothing else: no requirement to meet. A CV is then compared with that role three ways
(``scoring.short_ad_cosine`` weighs them):

- ``whole``: the whole CV's embedding with the ad's (a CV mostly about the role);
- ``role``: the mean of the ``ROLE_TOP`` best cosines of the role's embedding with windows of
  ``ROLE_WINDOW`` words of the CV (half overlapping, within its sentences and lines): the
  titles, skills lines and duties that say the role, wherever they stand in a long or a
  run-on scraped CV, which the whole CV's mean dilutes;
- ``skills``: the role's skills in the skills graph ("Java" of a Java Developer, "ETL" of an
  ETL Developer) and the CV's mentions of them or of a skill implying them (Spring, Hibernate
  and JUnit imply Java), ``ROLE_SKILL_HITS`` mentions counting in full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mmfuse.tasks.screening.graph import SkillGraph, key, load_graph
from mmfuse.tasks.screening.matching import split_sentences

ROLE_WINDOW = 12  # words of a CV window compared with the role
ROLE_TOP = 3  # best windows averaged
ROLE_SKILL_HITS = 3  # mentions of the role's skills that count in full
# The words around a role in a one-line ad: "We are hiring a", "Looking for an", "Job title:".
_HIRING = re.compile(
    r"^\s*(?:(?:we\s+are|we're|we\s+re|now|currently|urgently)\s+)?"
    r"(?:hiring|looking\s+for|seeking|recruiting|wanted|job\s+title|position|role)\s*:?\s*"
    r"(?:(?:an?|the|one|experienced|senior|junior)\s+)*",
    re.I,
)


@dataclass(frozen=True)
class AdRole:
    """The role a short ad names.

    Attributes:
        text: the role ("Java Developer").
        vector: float32 [dim] unit embedding of ``text``.
        skills: the skills graph's skills it names.
    """

    text: str
    vector: np.ndarray
    skills: frozenset[str]


def role_of(ad: str) -> str:
    """The role an ad names: its first line without the hiring words around it ("We are
    hiring a Java Developer." -> "Java Developer"); the line itself when nothing is left."""
    line = next((ln.strip() for ln in ad.splitlines() if ln.strip()), "")
    role = _HIRING.sub("", line).strip(" .!:;,")
    return role or line


def role_skills(role: str, graph: SkillGraph | None = None) -> frozenset[str]:
    """The graph's skills a role names: its mentions, a vocabulary name that is a related
    skill's name read as that skill ("DevOps")."""
    graph = graph or load_graph()
    broader = _broader_names(graph)
    return frozenset(
        mention.skill if mention.known else broader.get(key(mention.text), mention.skill)
        for mention in graph.mentions(role)
    )


@lru_cache(maxsize=1)
def _broader_names(graph: SkillGraph) -> dict[str, str]:
    """key -> name of the skills that others imply (some have no entry of their own)."""
    return {key(parent): parent for parents in graph.implies.values() for parent in parents}


def skill_hits(skills: frozenset[str], text: str, graph: SkillGraph | None = None) -> int:
    """How many of a text's skill mentions are one of ``skills`` or imply one."""
    if not skills:
        return 0
    graph = graph or load_graph()
    return sum(
        1
        for mention in graph.mentions(text)
        if mention.skill in skills or skills & graph.broader(mention.skill).keys()
    )


def windows(text: str) -> list[str]:
    """The CV's windows of ``ROLE_WINDOW`` words, half overlapping, within its sentences and
    lines (a shorter sentence is one window)."""
    out = []
    step = ROLE_WINDOW // 2
    for sentence in split_sentences(text):
        words = sentence.split()
        if len(words) <= ROLE_WINDOW:
            out.append(sentence)
            continue
        out += [" ".join(words[i : i + ROLE_WINDOW]) for i in range(0, len(words) - step, step)]
    return out


def role_cosine(role: AdRole, window_vectors: Sequence[np.ndarray], fallback: float) -> float:
    """The mean of the ``ROLE_TOP`` best cosines of the role with a CV's windows' unit
    vectors (``fallback`` for a CV without any)."""
    if len(window_vectors) == 0:
        return fallback
    cosines = np.sort(np.stack(window_vectors) @ role.vector)[-ROLE_TOP:]
    return float(cosines.mean())
