"""Screening measured on the project's own test set and the resume_matcher documents.

Prints, for the code on ``PYTHONPATH`` (run it on two checkouts to compare before and after):

- the test set (``tests/data/screening_cases``): per job, Spearman's rank correlation of the
  fit score with the person's order, whether the person's top and bottom are kept, and the
  share of the person's met/missing calls that the screening makes;
- one-line ads: each job of the test set and of resume_matcher given only as "We are hiring a
  <title>." against all of that collection's CVs; mean average precision and precision at 2 of
  the fit score and of a plain baseline (the cosine of MiniLM's embedding of the whole CV with
  the ad's), the relevant CVs being the person's top two (test set) or the resumes
  ``tests/test_screening_ranking.py`` allows first (resume_matcher);
- resume_matcher's full job descriptions: whether the resume allowed first is ranked first.

Usage: PYTHONPATH=src python scripts/eval_screening.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from mmfuse import config
from mmfuse.encoders.text import TextEncoder
from mmfuse.io.documents import read_document
from mmfuse.registry import default_model, resolve
from mmfuse.tasks.screening.screen import Screener, cv_columns

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "screening_cases"
AS_OF = date(2026, 12, 1)
TITLES = {
    "marketing_data_analyst": "Marketing Data Analyst",
    "backend_engineer": "Backend Software Engineer (Python)",
    "financial_accountant": "Financial Accountant",
    "job_desc_product_manager": "Product Manager",
    "job_desc_front_end_engineer": "Front End Engineer",
    "job_desc_full_stack_engineer": "Full Stack Engineer",
    "job_desc_java_developer": "Java Developer",
}
RESUME_FIRST = {
    "job_desc_product_manager": {"alfred_pennyworth_pm"},
    "job_desc_front_end_engineer": {"barry_allen_fe"},
    "job_desc_full_stack_engineer": {"bruce_wayne_fullstack", "john_doe"},
    "job_desc_java_developer": {"john_doe"},
}


def spearman(scores: list[float]) -> float:
    """Rank correlation of ``scores`` with their list order (the person's, best first)."""
    ours = np.argsort(np.argsort(-np.asarray(scores)))
    return float(np.corrcoef(ours, np.arange(len(scores)))[0, 1])


def average_precision(ranked: list[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for position, name in enumerate(ranked, start=1):
        if name in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant)


def fit_scores(encoder, job: str, texts: list[str]) -> list[float]:
    results = Screener(encoder, job, as_of=AS_OF).screen(texts)
    return [cv_columns(r, None)["fit_score"] or 0.0 for r in results]


def baseline_scores(encoder, job: str, texts: list[str]) -> list[float]:
    vectors = encoder.encode([job, *texts])
    return list(vectors[1:] @ vectors[0])


def one_line(encoder, names: list[str], texts: list[str], relevant: dict[str, set[str]]):
    rows = {}
    for method in (fit_scores, baseline_scores):
        aps, p2 = [], []
        for job, wanted in relevant.items():
            scores = method(encoder, f"We are hiring a {TITLES[job]}.", texts)
            ranked = [n for _, n in sorted(zip(scores, names, strict=True), reverse=True)]
            aps.append(average_precision(ranked, wanted))
            p2.append(len(set(ranked[:2]) & wanted) / min(2, len(wanted)))
        rows[method.__name__] = (100 * np.mean(aps), 100 * np.mean(p2))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    args = parser.parse_args()
    encoder = TextEncoder(resolve(default_model("text")), "cpu", "float32")
    all_names, all_texts, relevant = [], [], {}
    right = total = 0
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        names = expected["order"]
        texts = [(case / f"{n}.txt").read_text(encoding="utf-8") for n in names]
        job = (case / "job.txt").read_text(encoding="utf-8")
        screener = Screener(encoder, job, as_of=date.fromisoformat(expected["as_of"]))
        results = screener.screen(texts)
        scores = [cv_columns(r, None)["fit_score"] for r in results]
        ranked = [n for _, n in sorted(zip(scores, names, strict=True), reverse=True)]
        kept = set(ranked[:2]) == set(expected["top"]) and set(ranked[-2:]) == set(
            expected["bottom"]
        )
        case_right = case_total = 0
        for name, result in zip(names, results, strict=True):
            for key, call in expected["calls"][name].items():
                (match,) = [m for m in result.matches if key.lower() in m.requirement.text.lower()]
                case_right += match.met == (call == "met")
                case_total += 1
        right, total = right + case_right, total + case_total
        print(
            f"{case.name}: spearman {spearman(scores):.2f}, top and bottom kept {kept}, "
            f"calls {case_right}/{case_total}; order {ranked}"
        )
        all_names += [f"{case.name}/{n}" for n in names]
        all_texts += texts
        relevant[case.name] = {f"{case.name}/{n}" for n in expected["top"]}
    print(f"test set calls right: {right}/{total} = {100 * right / total:.1f} %")
    for method, (mean_ap, p2) in one_line(encoder, all_names, all_texts, relevant).items():
        print(f"test set, one-line ads, {method}: MAP {mean_ap:.1f}, P@2 {p2:.1f}")
    folder = args.data / "documents" / "resume_matcher"
    if not folder.is_dir():
        print(f"resume_matcher skipped: {folder} not found")
        return 0
    resumes = sorted((folder / "Resumes").glob("*.pdf"))
    texts = [read_document(p) for p in resumes]
    names = [p.stem for p in resumes]
    for job in sorted((folder / "JobDescription").glob("*.pdf")):
        scores = fit_scores(encoder, read_document(job), texts)
        first = names[int(np.argmax(scores))]
        print(f"resume_matcher {job.stem}: first {first} ({first in RESUME_FIRST[job.stem]})")
    for method, (mean_ap, p2) in one_line(encoder, names, texts, RESUME_FIRST).items():
        print(f"resume_matcher, one-line ads, {method}: MAP {mean_ap:.1f}, P@2 {p2:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
