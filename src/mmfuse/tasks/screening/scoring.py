"""The zero-shot fit score: a documented weighted sum of parts, each part a column.

    fit_score = 100 * sum(w_p * part_p) / sum(w_p)     over the parts p a candidate has

| part | in [0, 1] | weight |
|---|---|---|
| ``must_have_coverage`` | mean score of the must-have requirements | 0.45 |
| ``nice_to_have_coverage`` | mean score of the nice-to-have requirements | 0.10 |
| ``experience_fit`` | relevant years of experience / years asked for (capped at 1) | 0.10 |
| ``cv_job_similarity`` | cosine of the CV's and the job's embeddings, mapped to [0, 1] | 0.20 |
| ``answer_relevance`` | interview answers' relevance to questions and requirements | 0.15 |

The requirement parts (the first three) speak for the ad only as far as it lists requirements:
their weights are multiplied by ``requirement_share`` (0 for an ad of one requirement line, 1
from ``FULL_AD_REQUIREMENTS``), so a one-line ad ("We are hiring a Java developer.") ranks by
what it does say, the role it names, rather than by one requirement's score; for such a
short ad ``cv_job_similarity`` is ``short_ad_cosine``: the whole CV's cosine with the ad, the
cosine of the role with the CV's windows that say it best, and the CV's mentions of the
role's skills in the skills graph, weighed by ``SHORT_AD_WEIGHTS`` (see ``role``). A part that does
not apply (no nice-to-haves listed, no years asked for, no interview) is left out and the
others' weights are renormalised, so a candidate without an interview is neither helped nor
hurt by it. ``cv_match_score`` is the same sum over the CV parts only (all but
``answer_relevance``). Knock-outs (``--must-have-all``) never change the score: they set
``knocked_out`` and a note, and the ranking puts knocked-out candidates after the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmfuse.tasks.screening.matching import Match

WEIGHTS = {
    "must_have_coverage": 0.45,
    "nice_to_have_coverage": 0.10,
    "experience_fit": 0.10,
    "cv_job_similarity": 0.20,
    "answer_relevance": 0.15,
}
REQUIREMENT_PARTS = ("must_have_coverage", "nice_to_have_coverage", "experience_fit")
FULL_AD_REQUIREMENTS = 5  # requirements from which the requirement parts weigh in full
CV_PARTS = tuple(p for p in WEIGHTS if p != "answer_relevance")
# Whole-document cosines of MiniLM: CVs against an unrelated job ad ~0.2, a fitting one ~0.6+.
DOCUMENT_COSINE_FLOOR = 0.2
DOCUMENT_COSINE_FULL = 0.7
# A short ad's CV-job similarity: whole-CV cosine, role-window cosine, share of the role's
# skills' mentions (``role``); the role's skills weigh little, since most roles name none.
SHORT_AD_WEIGHTS = {"whole": 0.45, "role": 0.45, "skills": 0.10}


def document_similarity(cosine: float) -> float:
    """A CV-job cosine mapped linearly to [0, 1] between the floor and the full value."""
    span = DOCUMENT_COSINE_FULL - DOCUMENT_COSINE_FLOOR
    return float(np.clip((cosine - DOCUMENT_COSINE_FLOOR) / span, 0.0, 1.0))


def short_ad_cosine(whole: float, role: float, skills: float | None) -> float:
    """A short ad's cosine-like similarity to a CV: the weighted mean of the whole CV's
    cosine with the ad, the role's cosine with the CV's best windows, and the share in
    [0, 1] of the role's skills' mentions (``SHORT_AD_WEIGHTS``; None, left out: the role
    names no skill of the graph)."""
    parts = {"whole": whole, "role": role, "skills": skills}
    present = {n: v for n, v in parts.items() if v is not None}
    total = sum(SHORT_AD_WEIGHTS[n] for n in present)
    return sum(SHORT_AD_WEIGHTS[n] * v for n, v in present.items()) / total


def coverage(matches: Sequence[Match], must: bool) -> float | None:
    """Mean score of the must-have (or nice-to-have) matches; None when there are none."""
    scores = [m.score for m in matches if m.requirement.must == must]
    return float(np.mean(scores)) if scores else None


def experience_fit(matches: Sequence[Match]) -> float | None:
    """The years-of-experience requirements' mean score; None when no years are asked for."""
    scores = [m.score for m in matches if m.requirement.kind == "experience"]
    return float(np.mean(scores)) if scores else None


def requirement_share(requirements: int | None) -> float:
    """How much the requirement parts weigh for an ad of ``requirements`` requirements: 0 for
    one (the line is the ad itself), rising linearly to 1 at ``FULL_AD_REQUIREMENTS``."""
    if requirements is None:
        return 1.0
    return float(np.clip((requirements - 1) / (FULL_AD_REQUIREMENTS - 1), 0.0, 1.0))


def part_weights(requirements: int | None = None) -> dict[str, float]:
    """Each part's weight (``WEIGHTS``); with the number of the ad's ``requirements``, the
    requirement parts' are multiplied by ``requirement_share``."""
    share = requirement_share(requirements)
    return {p: w * (share if p in REQUIREMENT_PARTS else 1.0) for p, w in WEIGHTS.items()}


def weighted(
    parts: dict[str, float | None], names: Sequence[str], requirements: int | None = None
) -> float | None:
    """100 x the weighted mean of the parts in ``names`` that are not None, weighed by
    ``part_weights``."""
    weights = part_weights(requirements)
    present = [(weights[n], parts[n]) for n in names if parts.get(n) is not None]
    if not present:
        return None
    total = sum(w for w, _ in present)
    if total == 0:
        return None
    return 100.0 * sum(w * v for w, v in present) / total


def fit_parts(
    matches: Sequence[Match], similarity: float, relevance: float | None
) -> dict[str, float | None]:
    """The parts of the fit score for one candidate."""
    return {
        "must_have_coverage": coverage(matches, must=True),
        "nice_to_have_coverage": coverage(matches, must=False),
        "experience_fit": experience_fit(matches),
        "cv_job_similarity": similarity,
        "answer_relevance": relevance,
    }


def rank(rows: Sequence[dict], score: str = "fit_score") -> list[int | None]:
    """1-based ranks by ``score`` (the fit score, or a trained head's ``learned_score``),
    knocked-out and failed candidates after the others.

    Ties keep the input order; a row without a score (an error) gets None.
    """
    scored = [
        (bool(row.get("knocked_out")), -float(row[score]), index)
        for index, row in enumerate(rows)
        if row.get(score) not in (None, "") and not row.get("error")
    ]
    ranks: list[int | None] = [None] * len(rows)
    for position, (_, _, index) in enumerate(sorted(scored), start=1):
        ranks[index] = position
    return ranks
