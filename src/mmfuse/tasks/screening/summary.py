"""The run's extra outputs: ranks written into the results tables, and summary.csv.

A rank needs every candidate's score, so it is given once all rows are in: ``finish`` sorts
by fit score (knocked-out candidates after the others, failed rows unranked), then rewrites
``results.csv`` and ``results.parquet`` atomically with the ``rank`` column filled, through
the same formula-safe writers the runner uses. The cached rows carry no rank: it belongs to
the run, not to the candidate.

``summary.csv``: one row per requirement of the job, with how many candidates meet it
(``met``), of how many screened, their mean score, and ``nobody_meets`` for a requirement that
no candidate meets (the job may ask for something the market does not offer).

``requirements.csv``: one row per candidate and requirement, by rank then in the job's order:
its status (met, unclear, missing), how it was matched (exact, synonym, implied, words,
similar, years, degree, adjacent field), the path of an implied match ("PostgreSQL -> SQL"),
its score and the CV sentence that supports it, so that nobody has to read the JSON columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from mmfuse.io.writers import atomic_write, write_csv
from mmfuse.tasks.screening.requirements import Requirement
from mmfuse.tasks.screening.scoring import rank

SUMMARY_CSV = "summary.csv"
REQUIREMENTS_CSV = "requirements.csv"
REQUIREMENT_COLUMNS = (
    "id", "rank", "requirement", "kind", "must", "status", "how", "via", "score", "evidence",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "requirement", "kind", "must", "met", "screened", "share_met", "mean_score", "nobody_meets",
)  # fmt: skip


def match_status(match: dict, met: bool) -> str:
    """A results row's match's status: its own, or for rows cached before statuses were
    written, met or missing by the column it sits in."""
    return match.get("status") or ("met" if met else "missing")


def _requirement_scores(rows: Sequence[dict]) -> dict[str, list[tuple[bool, float]]]:
    scores: dict[str, list[tuple[bool, float]]] = {}
    for row in rows:
        if row.get("error"):
            continue
        for column, met in (("matched_requirements", True), ("missing_requirements", False)):
            for match in json.loads(row.get(column) or "[]"):
                scores.setdefault(match["requirement"], []).append((met, match["score"]))
    return scores


def summary_rows(rows: Sequence[dict], requirements: Sequence[Requirement]) -> list[dict]:
    """Requirement coverage across the candidates (see the module docstring)."""
    scores = _requirement_scores(rows)
    out = []
    for requirement in requirements:
        found = scores.get(requirement.text, [])
        met = sum(m for m, _ in found)
        out.append(
            {
                "requirement": requirement.text,
                "kind": requirement.kind,
                "must": requirement.must,
                "met": met,
                "screened": len(found),
                "share_met": round(met / len(found), 4) if found else None,
                "mean_score": round(sum(s for _, s in found) / len(found), 4) if found else None,
                "nobody_meets": bool(found) and met == 0,
            }
        )
    return out


def requirement_rows(rows: Sequence[dict], requirements: Sequence[Requirement]) -> list[dict]:
    """One row per candidate and requirement (see the module docstring)."""
    order = {r.text: i for i, r in enumerate(requirements)}
    scored = [r for r in rows if not r.get("error")]
    scored.sort(key=lambda r: (r.get("rank") in (None, ""), r.get("rank") or 0))
    out = []
    for row in scored:
        matches = [
            (match, met)
            for column, met in (("matched_requirements", True), ("missing_requirements", False))
            for match in json.loads(row.get(column) or "[]")
        ]
        matches.sort(key=lambda pair: order.get(pair[0]["requirement"], len(order)))
        for match, met in matches:
            status = match_status(match, met)
            out.append(
                {
                    "id": row.get("id"),
                    "rank": row.get("rank"),
                    **{k: match.get(k, "") for k in ("requirement", "kind", "must")},
                    "status": status,
                    "how": match.get("how", ""),
                    "via": match.get("via", ""),
                    "score": match.get("score"),
                    "evidence": match.get("evidence", ""),
                }
            )
    return out


def ranked(rows: Sequence[dict], score: str = "fit_score") -> list[dict]:
    """The rows with their ``rank`` by ``score`` filled in (it needs every candidate's)."""
    ranks = rank(rows, score)
    return [{**row, "rank": position} for row, position in zip(rows, ranks, strict=True)]


def write_outputs(
    rows: Sequence[dict], requirements: Sequence[Requirement], out: Path
) -> list[Path]:
    """Writes summary.csv (requirement coverage across candidates) and requirements.csv (each
    candidate's requirements); returns their paths."""
    with atomic_write(out / SUMMARY_CSV) as stream:
        write_csv(summary_rows(rows, requirements), SUMMARY_COLUMNS, stream)
    with atomic_write(out / REQUIREMENTS_CSV) as stream:
        write_csv(requirement_rows(rows, requirements), REQUIREMENT_COLUMNS, stream)
    return [out / SUMMARY_CSV, out / REQUIREMENTS_CSV]
