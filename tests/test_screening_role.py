"""A short ad ranks by the role it names (issue 23): the role read from the ad, its skills
in the skills graph, and CVs of the role's category above those of a confusable one
(``tests/data/screening_categories``; the last test needs the packaged MiniLM)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mmfuse.tasks.screening.role import role_of, role_skills, skill_hits, windows
from mmfuse.tasks.screening.scoring import short_ad_cosine

CATEGORIES = Path(__file__).parent / "data" / "screening_categories"


def _cvs(category: str) -> list[str]:
    text = (CATEGORIES / f"{category}.txt").read_text(encoding="utf-8")
    return [cv.strip() for cv in text.split("\n---\n")]


@pytest.mark.parametrize(
    ("ad", "role"),
    [
        ("We are hiring a Java Developer.", "Java Developer"),
        ("Java Developer", "Java Developer"),
        ("We're looking for an experienced DevOps Engineer!", "DevOps Engineer"),
        ("Hiring: Sales Executive\nApply by mail.", "Sales Executive"),
        ("We are hiring.", "We are hiring."),  # no role named: the line itself
    ],
)
def test_the_role_is_the_ads_first_line_without_its_hiring_words(ad, role):
    assert role_of(ad) == role


def test_a_roles_skills_and_the_cv_skills_that_imply_them():
    assert role_skills("Java Developer") == {"Java"}
    assert role_skills("DevOps Engineer") == {"DevOps"}  # a related skill's name
    assert role_skills("Sales") == frozenset()
    # Spring, Hibernate and JUnit imply Java; JavaScript does not
    assert skill_hits(frozenset({"Java"}), "Spring Boot, Hibernate, JUnit and JavaScript") == 3
    assert skill_hits(frozenset(), "Java, Java, Java") == 0


def test_windows_cut_long_sentences_and_keep_short_ones():
    cut = windows("Skills " + " ".join(f"w{i}" for i in range(30)) + "\nJava Developer")
    assert cut[-1] == "Java Developer"
    assert all(len(w.split()) <= 12 for w in cut) and len(cut) == 6  # 31 words: 5 windows


def test_the_short_ads_similarity_leaves_out_a_role_without_skills():
    assert short_ad_cosine(0.4, 0.6, None) == pytest.approx(0.5)
    assert short_ad_cosine(0.4, 0.6, 1.0) == pytest.approx(0.45 * 0.4 + 0.45 * 0.6 + 0.1)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("ad", "own", "confusable"),
    [
        ("We are hiring a Java Developer.", "java_developer", "automation_testing"),
        ("We are hiring a Python Developer.", "python_developer", "automation_testing"),
        ("HR", "hr", "sales"),
    ],
)
def test_a_one_line_ad_ranks_its_categorys_cvs_above_a_confusable_categorys(ad, own, confusable):
    from mmfuse.encoders.text import TextEncoder
    from mmfuse.registry import default_model, resolve
    from mmfuse.tasks.screening.screen import Screener, cv_columns

    encoder = TextEncoder(resolve(default_model("text")), "cpu", "float32")
    mine, theirs = _cvs(own), _cvs(confusable)
    results = Screener(encoder, ad, as_of=date(2026, 12, 1)).screen([*mine, *theirs])
    scores = [cv_columns(r, None)["fit_score"] for r in results]
    assert min(scores[: len(mine)]) > max(scores[len(mine) :])
