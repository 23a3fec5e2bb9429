"""The screening sections of report.html: evidence for a human reviewer, never a verdict.

- A note, first and highlighted, that the tool assists and does not decide.
- The ranked candidates: the fit score as stacked bars of its weighted parts (each part's
  contribution, ``100 * w_p * part_p / sum(w)`` over the parts the candidate has, adds up to
  ``fit_score``), and a table of rank, score, must-haves met, experience and degree (with a
  head trained on past decisions, ``--model``, its ``learned_score``, which the rank follows,
  and a note that it learns those decisions' biases too).
- Per candidate, the matched and missing requirements with their evidence sentences.
- Requirement coverage across the candidates (how many meet each; nobody-meets flagged).
- The fairness audit, when one was written into the output folder (``mmfuse audit ... -o
  OUT/audit.csv``): selection rate and adverse-impact ratio per group, with the verdicts.

No picture of a candidate is ever shown: this section has charts and text only, and the
interview recording's frames never reach the report.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from mmfuse.fairness import COLUMNS as AUDIT_COLUMNS
from mmfuse.report.charts import bar_chart, charts, stacked_bars
from mmfuse.report.page import Html, Section, tag
from mmfuse.report.table import table
from mmfuse.tasks.screening.scoring import WEIGHTS, rank

NOTE = (
    "mmfuse assists a human decision and does not decide. The fit score orders CVs by the "
    "evidence below (requirement matches, experience, similarity to the job, interview "
    "answers' relevance); it does not see faces, voices or appearance, and it can miss what a "
    "CV says in other words. Read the evidence, and never reject a candidate on the score alone."
)
# Candidates in the chart and with their evidence listed (the rows table has them all).
CANDIDATES_SHOWN = 25
# An audit is a CSV in the output folder named like this, with the audit's columns.
AUDIT_GLOB = "audit*.csv"
PART_LABELS = {
    "must_have_coverage": "must-haves",
    "nice_to_have_coverage": "nice-to-haves",
    "experience_fit": "experience",
    "cv_job_similarity": "CV-job similarity",
    "answer_relevance": "interview answers",
}
RANKED_COLUMNS = (
    "rank",
    "id",
    "fit_score",
    "must_have_met",
    "must_have_total",
    "years_experience",
    "degree",
    "knocked_out",
    "recording_quality",
)
LEARNED = ("learned_score", "learned_prediction")
LEARNED_NOTE = (
    " The rank is by learned_score, a head trained on past decisions (--model): it learns "
    "whatever those decisions held, their biases included, so audit it (mmfuse audit "
    "--score-column learned_score)."
)


def _number(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _ranked(rows: Sequence[dict]) -> list[dict]:
    """Scored candidates in rank order (the run's ``rank`` column, else ranked here)."""
    ok = [dict(r) for r in rows if not r.get("error") and _number(r.get("fit_score")) is not None]
    if any(_number(r.get("rank")) is None for r in ok):
        for row, position in zip(ok, rank(ok), strict=True):
            row["rank"] = position
    return sorted(ok, key=lambda r: _number(r["rank"]))


def contributions(row: dict) -> dict[str, float]:
    """Each part's share of the fit score, in points (they sum to ``fit_score``)."""
    present = {p: _number(row.get(p)) for p in WEIGHTS}
    present = {p: v for p, v in present.items() if v is not None}
    total = sum(WEIGHTS[p] for p in present)
    return {p: 100 * WEIGHTS[p] * v / total for p, v in present.items()} if total else {}


def ranking_section(ranked: list[dict]) -> Section:
    shown = ranked[:CANDIDATES_SHOWN]
    parts = {PART_LABELS[p]: [contributions(r).get(p, 0.0) for r in shown] for p in WEIGHTS}
    labels = [
        f"{r['rank']}. {r['id']}" + (" (knocked out)" if r.get("knocked_out") else "")
        for r in shown
    ]
    chart = stacked_bars("fit-score-parts", "Fit score and its parts", labels, parts, "points")
    weights = ", ".join(f"{PART_LABELS[p]} {w:.2f}" for p, w in WEIGHTS.items())
    learned = any(_number(r.get("learned_score")) is not None for r in ranked)
    columns = (*RANKED_COLUMNS[:2], *LEARNED, *RANKED_COLUMNS[2:]) if learned else RANKED_COLUMNS
    return Section(
        "Ranked candidates",
        [
            tag("p", NOTE, class_="callout", id="assists-note"),
            charts(chart),
            table(columns, ranked),
        ],
        f"Each bar is the fit score (0-100): the weighted mean of its parts ({weights}; a part "
        "a candidate lacks, such as an interview, is left out and the others reweighted)."
        + (LEARNED_NOTE if learned else ""),
        id="screening-ranking",
    )


def _matches(row: dict, column: str) -> list[dict]:
    try:
        return json.loads(row.get(column) or "[]")
    except ValueError:
        return []


def evidence_section(ranked: list[dict]) -> Section:
    """Per candidate, a collapsible list of met and missing requirements with evidence."""
    blocks = []
    for row in ranked[:CANDIDATES_SHOWN]:
        matched, missing = (
            _matches(row, "matched_requirements"),
            _matches(row, "missing_requirements"),
        )
        lines = [
            {
                "": "met" if met else "missing",
                "requirement": m.get("requirement"),
                "must": "must" if m.get("must") else "nice",
                "score": m.get("score"),
                "evidence": m.get("evidence"),
            }
            for met, group in ((True, matched), (False, missing))
            for m in group
        ]
        summary = (
            f"{row['rank']}. {row['id']}: fit {row.get('fit_score')}, "
            f"{len(matched)} requirements met, {len(missing)} missing"
        )
        blocks.append(
            tag(
                "details",
                [
                    tag("summary", summary),
                    table(["", "requirement", "must", "score", "evidence"], lines),
                ],
                class_="candidate",
            )
        )
    return Section(
        "Requirements met and missing, with evidence",
        blocks or [tag("p", "No scored candidates.")],
        "The CV sentence behind each match (personal data redacted unless --keep-pii was given).",
        id="screening-evidence",
    )


def coverage_section(ranked: list[dict]) -> Section | None:
    """How many candidates meet each requirement."""
    met: dict[str, list[bool]] = defaultdict(list)
    must: dict[str, bool] = {}
    for row in ranked:
        for column, is_met in (("matched_requirements", True), ("missing_requirements", False)):
            for m in _matches(row, column):
                met[m["requirement"]].append(is_met)
                must[m["requirement"]] = bool(m.get("must"))
    if not met:
        return None
    names = sorted(met, key=lambda n: (not must[n], -sum(met[n])))
    labels = [("(must) " if must[n] else "") + n for n in names]
    chart = bar_chart(
        "requirement-coverage",
        "Candidates meeting each requirement",
        labels,
        [sum(met[n]) for n in names],
        f"of {len(ranked)} candidates",
    )
    nobody = [n for n in names if not any(met[n])]
    note = "Must-haves first. "
    note += (
        f"Nobody meets: {'; '.join(nobody)}." if nobody else "Every requirement is met by someone."
    )
    return Section("Requirement coverage", [charts(chart)], note, id="screening-coverage")


def audit_section(out_dir: Path) -> Section | None:
    """The fairness audits written into the output folder, if any."""
    parts: list[Html] = []
    for path in sorted(out_dir.glob(AUDIT_GLOB)):
        try:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                rows = list(csv.DictReader(stream))
        except (OSError, UnicodeDecodeError, csv.Error):
            continue
        if not rows or not set(AUDIT_COLUMNS) <= set(rows[0]):
            continue
        rates = [_number(r["selection_rate"]) or 0.0 for r in rows]
        chart = bar_chart(
            f"audit-{path.stem}",
            "Selection rate per group",
            [r["group"] for r in rows],
            rates,
            "selection rate",
        )
        parts += [tag("h3", path.name), charts(chart), table(AUDIT_COLUMNS, rows)]
    if not parts:
        return None
    return Section(
        "Fairness audit",
        parts,
        "Selection rate per self-reported group (data that never entered the model), its ratio "
        "to the best-off group and the four-fifths rule; small groups are flagged as such.",
        id="screening-audit",
    )


def report_sections(
    rows: Sequence[dict], out_dir: Path, files: Mapping[str, Sequence[Path]]
) -> list[Section]:
    """The screening sections, in reading order (``files`` unused: no pictures, ever)."""
    ranked = _ranked(rows)
    sections = [
        ranking_section(ranked),
        evidence_section(ranked),
        coverage_section(ranked),
        audit_section(Path(out_dir)),
    ]
    return [s for s in sections if s is not None]
