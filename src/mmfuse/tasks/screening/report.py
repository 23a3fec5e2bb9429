"""The screening sections of report.html: evidence for a human reviewer, never a verdict.

- A note, first and highlighted, that the tool assists and does not decide.
- The ranked candidates: the fit score as stacked bars of its weighted parts (each part's
  contribution, ``100 * w_p * part_p / sum(w)`` over the parts the candidate has, adds up to
  ``fit_score``), and a table by rank of the score and its parts in whole points, must-haves
  met, requirements to look at (unclear), relevant experience and degree (with a head trained
  on past decisions, ``--model``, its ``learned_score``, which the rank follows, and a note
  that it learns those decisions' biases too).
- Per candidate, each requirement met, unclear (a person should look) or missing, how it was
  matched and the evidence sentence; the top candidates' lists open.
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
from mmfuse.tasks.screening.scoring import (
    FULL_AD_REQUIREMENTS,
    WEIGHTS,
    part_weights,
    rank,
)
from mmfuse.tasks.screening.summary import match_status

NOTE = (
    "mmfuse assists a human decision and does not decide. The fit score orders CVs by the "
    "evidence below (requirement matches, experience, similarity to the job, interview "
    "answers' relevance); it does not see faces, voices or appearance, and it can miss what a "
    "CV says in other words. Read the evidence, and never reject a candidate on the score alone."
)
# Candidates in the chart and with their evidence listed (the rows table has them all).
CANDIDATES_SHOWN = 25
EVIDENCE_OPEN = 3  # the top candidates whose evidence is open on the page
SCORE_COLUMNS = ("fit_score", "cv_match_score", "learned_score")  # shown in whole points
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
    *PART_LABELS.values(),
    "must_have_met",
    "must_have_total",
    "unclear",
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
    requirements = len(_matches(row, "matched_requirements")) + len(
        _matches(row, "missing_requirements")
    )
    weights = part_weights(requirements)
    present = {p: _number(row.get(p)) for p in WEIGHTS}
    present = {p: v for p, v in present.items() if v is not None}
    total = sum(weights[p] for p in present)
    return {p: 100 * weights[p] * v / total for p, v in present.items()} if total else {}


def _whole(value) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _how(match: dict) -> str:
    """ "implied: PostgreSQL -> SQL", "synonym: k8s -> Kubernetes", "years: 5.2 relevant
    years of 3", "exact"."""
    how, via = match.get("how") or "", match.get("via") or ""
    return f"{how}: {via}" if how and via and how != "exact" else how


def readable_requirements(text: str, met: bool) -> str:
    """A matched/missing JSON column as a list a person reads: "SQL skills (implied:
    PostgreSQL -> SQL); Python (exact)"."""
    items = []
    for match in _matches({"c": text}, "c"):
        status = match_status(match, met)
        note = ", ".join(x for x in (status if status == "unclear" else "", _how(match)) if x)
        items.append(f"{match.get('requirement')}" + (f" ({note})" if note else ""))
    return "; ".join(items)


def readable_rows(rows: Sequence[dict]) -> list[dict]:
    """The rows for the report's table of all rows: requirement lists and redaction counts
    as text, scores in whole points."""
    out = []
    for row in rows:
        row = dict(row)
        for column, met in (("matched_requirements", True), ("missing_requirements", False)):
            if row.get(column):
                row[column] = readable_requirements(row[column], met)
        for column in SCORE_COLUMNS:
            if _number(row.get(column)) is not None:
                row[column] = _whole(row[column])
        try:
            counts = json.loads(row.get("pii_redacted") or "{}")
            if isinstance(counts, dict):
                row["pii_redacted"] = ", ".join(f"{k} {v}" for k, v in counts.items())
        except (TypeError, ValueError):
            pass
        out.append(row)
    return out


def _table_row(row: dict) -> dict:
    """A ranked candidate's cells: whole points, the parts' contributions, unclear count."""
    parts = contributions(row)
    unclear = sum(
        match_status(m, False) == "unclear" for m in _matches(row, "missing_requirements")
    )
    return {
        **row,
        **{c: _whole(row.get(c)) for c in SCORE_COLUMNS if c in row},
        **{label: _whole(parts.get(p)) for p, label in PART_LABELS.items()},
        "unclear": unclear,
    }


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
            table(columns, [_table_row(r) for r in ranked]),
        ],
        f"Each bar is the fit score (0-100): the weighted mean of its parts ({weights}; a part "
        "a candidate lacks, such as an interview, is left out and the others reweighted; the "
        f"requirement parts weigh less when the job lists fewer than {FULL_AD_REQUIREMENTS} "
        "requirements, nothing for a one-line ad). The table gives each part's points; "
        "'unclear' counts the requirements a person should check."
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
                "": match_status(m, met),
                "requirement": m.get("requirement"),
                "must": "must" if m.get("must") else "nice",
                "how": _how(m),
                "evidence": m.get("evidence"),
            }
            for met, group in ((True, matched), (False, missing))
            for m in group
        ]
        unclear = sum(line[""] == "unclear" for line in lines)
        summary = (
            f"{row['rank']}. {row['id']}: fit {_whole(row.get('fit_score'))}, "
            f"{len(matched)} requirements met, "
            + (f"{unclear} unclear (please check), " if unclear else "")
            + f"{len(missing) - unclear} missing"
        )
        blocks.append(
            tag(
                "details",
                [
                    tag("summary", summary),
                    table(["", "requirement", "must", "how", "evidence"], lines),
                ],
                class_="candidate",
                open="" if len(blocks) < EVIDENCE_OPEN else None,
            )
        )
    return Section(
        "Requirements met and missing, with evidence",
        blocks or [tag("p", "No scored candidates.")],
        "The CV sentence behind each match (personal data redacted unless --keep-pii was given) "
        "and how it was matched: exact, synonym or implied by a narrower skill (the skills "
        "graph), words, similar (meaning only), relevant years, degree level and field. "
        "'unclear' is a call for a person: the CV may say it in words the screening cannot "
        "judge. mmfuse explain OUT --id ID prints one candidate's list.",
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
