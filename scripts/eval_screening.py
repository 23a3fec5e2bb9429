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
- resume_matcher's full job descriptions: whether the resume allowed first is ranked first;
- CV categories (``tests/data/screening_categories``: 16 job categories, 4 CVs each, in two
  halves, the second held back from the short ad's design): each category's one-line ad, as
  "We are hiring a <category>." and as the bare category name, against all CVs of its half,
  then every category against all 64 CVs ("all"); mean average precision and precision at 5
  (out of the category's 4 CVs) of the fit score and of the baseline.

Usage: PYTHONPATH=src python scripts/eval_screening.py [--data ../shared/data]
       [--only categories] [--half design|held-back|all]
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
CATEGORIES = CASES.parent / "screening_categories"
HALVES = {
    "design": (
        "java_developer", "dotnet_developer", "testing", "automation_testing",
        "python_developer", "hr", "civil_engineer", "sales",
    ),
    "held-back": (
        "data_science", "hadoop", "etl_developer", "database", "devops_engineer",
        "mechanical_engineer", "web_designing", "business_analyst",
    ),
}  # fmt: skip
CATEGORY_TITLES = {
    "hr": "HR",
    "dotnet_developer": "DotNet Developer",
    "etl_developer": "ETL Developer",
    "devops_engineer": "DevOps Engineer",
}
AD_FORMS = {"one line": "We are hiring a {}.", "bare name": "{}"}
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


class MemoEncoder:
    """The text encoder with its vectors kept by text: the same CVs are ranked against many
    ads, and each text is embedded once."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.memo: dict[str, np.ndarray] = {}

    def encode(self, texts, batch_size=None):
        missing = sorted({t for t in texts if t not in self.memo})
        if missing:
            self.memo.update(zip(missing, self.encoder.encode(missing, batch_size), strict=True))
        return np.stack([self.memo[t] for t in texts])


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


def one_line(
    encoder,
    names: list[str],
    texts: list[str],
    relevant: dict[str, set[str]],
    ads: dict[str, str] | None = None,
    at: int = 2,
):
    """(MAP, P@at) of the fit score and of the baseline, each job's ad ("We are hiring a
    <title>." unless ``ads`` gives it) ranking all ``texts``."""
    rows = {}
    for method in (fit_scores, baseline_scores):
        aps, precision = [], []
        for job, wanted in relevant.items():
            ad = ads[job] if ads else f"We are hiring a {TITLES[job]}."
            scores = method(encoder, ad, texts)
            ranked = [n for _, n in sorted(zip(scores, names, strict=True), reverse=True)]
            aps.append(average_precision(ranked, wanted))
            precision.append(len(set(ranked[:at]) & wanted) / min(at, len(wanted)))
        rows[method.__name__] = (100 * np.mean(aps), 100 * np.mean(precision))
    return rows


def category_cvs(half: str) -> tuple[list[str], list[str], dict[str, set[str]]]:
    """The CV names ("category/1"), texts and each category's relevant names of a half."""
    names, texts, relevant = [], [], {}
    for category in HALVES[half] if half in HALVES else [c for h in HALVES.values() for c in h]:
        cvs = (CATEGORIES / f"{category}.txt").read_text(encoding="utf-8").split("\n---\n")
        own = [f"{category}/{i}" for i in range(1, len(cvs) + 1)]
        names += own
        texts += [cv.strip() for cv in cvs]
        relevant[category] = set(own)
    return names, texts, relevant


def category_title(category: str) -> str:
    return CATEGORY_TITLES.get(category, category.replace("_", " ").title())


def categories(encoder, halves: list[str]) -> None:
    """The CV categories' one-line ads (see the module docstring), per half and ad form."""
    for half in halves:
        names, texts, relevant = category_cvs(half)
        for form, pattern in AD_FORMS.items():
            ads = {c: pattern.format(category_title(c)) for c in relevant}
            rows = one_line(encoder, names, texts, relevant, ads, at=5)
            for method, (mean_ap, p5) in rows.items():
                print(f"categories {half}, {form}, {method}: MAP {mean_ap:.1f}, P@5 {p5:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=config.shared_data_dir())
    parser.add_argument("--only", choices=["categories"], help="only the CV categories")
    parser.add_argument("--half", choices=[*HALVES, "all"], help="only this half of them")
    args = parser.parse_args()
    encoder = MemoEncoder(TextEncoder(resolve(default_model("text")), "cpu", "float32"))
    categories(encoder, [args.half] if args.half else [*HALVES, "all"])
    if args.only:
        return 0
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
