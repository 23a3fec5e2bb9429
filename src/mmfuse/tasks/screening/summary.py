"""The run's extra outputs: ranks written into the results tables, and summary.csv.

A rank needs every candidate's score, so it is given once all rows are in: ``finish`` sorts
by fit score (knocked-out candidates after the others, failed rows unranked), then rewrites
``results.csv`` and ``results.parquet`` atomically with the ``rank`` column filled, through
the same formula-safe writers the runner uses. The cached rows carry no rank: it belongs to
the run, not to the candidate.

``summary.csv``: one row per requirement of the job, with how many candidates meet it
(``met``), of how many screened, their mean score, and ``nobody_meets`` for a requirement that
no candidate meets (the job may ask for something the market does not offer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from mmfuse.io.writers import atomic_write, write_csv
from mmfuse.tasks.screening.requirements import Requirement
from mmfuse.tasks.screening.scoring import rank

SUMMARY_CSV = "summary.csv"
SUMMARY_COLUMNS = (
    "requirement", "kind", "must", "met", "screened", "share_met", "mean_score", "nobody_meets",
)  # fmt: skip


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


def ranked(rows: Sequence[dict], score: str = "fit_score") -> list[dict]:
    """The rows with their ``rank`` by ``score`` filled in (it needs every candidate's)."""
    ranks = rank(rows, score)
    return [{**row, "rank": position} for row, position in zip(rows, ranks, strict=True)]


def write_outputs(
    rows: Sequence[dict], requirements: Sequence[Requirement], out: Path
) -> list[Path]:
    """Writes summary.csv (requirement coverage across candidates); returns its path."""
    with atomic_write(out / SUMMARY_CSV) as stream:
        write_csv(summary_rows(rows, requirements), SUMMARY_COLUMNS, stream)
    return [out / SUMMARY_CSV]
