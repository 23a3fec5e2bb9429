"""Ranking on the resume_matcher resumes with the real default models (integration)."""

from __future__ import annotations

from datetime import date

import pytest

from mmfuse.io.documents import read_document

pytestmark = pytest.mark.integration

# job description file -> the resumes (file stems) allowed first
EXPECTED_FIRST = {
    "job_desc_product_manager": {"alfred_pennyworth_pm"},
    "job_desc_front_end_engineer": {"barry_allen_fe"},
    "job_desc_full_stack_engineer": {"bruce_wayne_fullstack", "john_doe"},
    "job_desc_java_developer": {"john_doe"},
}


@pytest.fixture(scope="module")
def score_matrix(shared_data):
    from mmfuse.encoders.text import TextEncoder
    from mmfuse.registry import default_model, resolve
    from mmfuse.tasks.screening.screen import Screener, cv_columns

    folder = shared_data / "documents" / "resume_matcher"
    resumes = sorted((folder / "Resumes").glob("*.pdf"))
    texts = [read_document(p) for p in resumes]
    encoder = TextEncoder(resolve(default_model("text")), "cpu", "float32")  # the task's default
    matrix = {}
    for job in sorted((folder / "JobDescription").glob("*.pdf")):
        screener = Screener(encoder, read_document(job), as_of=date(2026, 11, 30))
        results = screener.screen(texts)
        matrix[job.stem] = {
            r.stem: cv_columns(res, None)["fit_score"]
            for r, res in zip(resumes, results, strict=True)
        }
    return matrix


@pytest.mark.parametrize("job", sorted(EXPECTED_FIRST))
def test_each_description_ranks_its_role_first(score_matrix, job):
    scores = score_matrix[job]
    best = max(scores, key=scores.get)
    assert best in EXPECTED_FIRST[job], scores


def test_the_java_resume_also_fits_the_full_stack_description(score_matrix):
    scores = score_matrix["job_desc_full_stack_engineer"]
    ranked = sorted(scores, key=scores.get, reverse=True)
    assert set(ranked[:2]) <= {"bruce_wayne_fullstack", "john_doe", "alfred_pennyworth_pm"}
    assert ranked.index("john_doe") < ranked.index("harvey_dent_mle")
