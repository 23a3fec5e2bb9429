"""Screening's text stages: sections, requirements, skills, CV profile, matching, fit score."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mmfuse.tasks.screening.matching import CvEvidence, match_requirement, sentence_spans
from mmfuse.tasks.screening.profile import years_of_experience
from mmfuse.tasks.screening.requirements import extract_requirements
from mmfuse.tasks.screening.scoring import WEIGHTS, fit_parts, rank, weighted
from mmfuse.tasks.screening.sections import split_sections
from mmfuse.tasks.screening.skills import find_skills

CV = """Jordan Example
Backend Engineer

Summary
Engineer with 6 years of experience building web services.

Work Experience
Senior Engineer, Acme, June 2019 - Present
Managed a team of five engineers. Deployed services with k8s and Docker.
Engineer, Initech, 2015 - 2019
Built REST APIs in Python 3.

Education
2011 - 2015 Bachelor of Science in Computer Science

Skills
Python, Docker, Kubernetes, PostgreSQL
"""

JOB = """Backend Engineer
Requirements
- At least 5 years of experience building backend services
- Strong Python skills
- Experience with Kubernetes or Nomad
- Bachelor's degree in Computer Science or a related field
Nice to have
- Experience with Terraform
- Team leadership is a plus
"""


def test_sections_follow_the_cv_headings():
    sections = split_sections(CV)
    assert sections.found == ("experience", "education", "skills", "other")
    assert "Jordan Example" in sections.header
    assert "Initech" in sections.text_of("experience")
    assert "Bachelor" in sections.text_of("education")
    assert "Kubernetes" in sections.text_of("skills")


def test_a_heading_with_its_content_on_the_same_line():
    sections = split_sections("Ann Lee\nSkills: Python, SQL\nExperience:\nAnalyst, 2019 - 2021")
    assert sections.text_of("skills") == "Python, SQL"
    assert sections.text_of("experience") == "Analyst, 2019 - 2021"


def test_a_document_without_headings_is_all_other():
    sections = split_sections("I wrote code for ten years.\nThen I wrote more code.")
    assert sections.parts == () and sections.found == ()


def test_requirements_are_must_or_nice_by_wording_and_heading():
    found = {r.text: r for r in extract_requirements(JOB)}
    years = found["At least 5 years of experience building backend services"]
    assert years.kind == "experience" and years.years == 5 and years.must
    assert found["Strong Python skills"].skills == ("Python",)
    assert found["Experience with Kubernetes or Nomad"].kind == "skill"
    degree = found["Bachelor's degree in Computer Science or a related field"]
    assert degree.kind == "degree" and degree.degree == 2 and degree.must
    assert not found["Experience with Terraform"].must  # under "Nice to have"
    assert not found["Team leadership is a plus"].must
    assert "Backend Engineer" not in found


def test_a_paragraph_under_any_requirement_heading_gives_one_requirement_a_sentence():
    job = (
        "What you need:\nYou have at least 5 years of experience with Go or Python. You know "
        "PostgreSQL well. Experience with Kafka is a plus.\nBonus points:\n- AWS certification\n"
    )
    found = [(r.kind, r.must, r.skills) for r in extract_requirements(job)]
    assert found == [
        ("experience", True, ("Python", "Go")),
        ("skill", True, ("PostgreSQL",)),
        ("skill", False, ("Kafka",)),
        ("certification", False, ("AWS",)),
    ]


def test_a_preferred_clause_does_not_raise_the_degree_asked_for():
    (req,) = extract_requirements("Requirements\n- Bachelor's degree (MBA preferred)\n")
    assert req.degree == 2 and req.must


def test_skill_aliases_and_versions_are_one_skill():
    assert find_skills("Deployed with k8s; Python 3 and HTML5") == ["Python", "HTML", "Kubernetes"]
    assert find_skills("we react quickly and go home") == []
    assert find_skills("Managed a team of five") == ["Leadership"]


def test_years_of_experience_merge_dated_positions():
    sections = split_sections(CV)
    # 2015 - 2019 (4 whole years) and June 2019 - Nov 2026 (7.4 years)
    assert years_of_experience(CV, sections, date(2026, 11, 30)) == pytest.approx(11.4, abs=0.1)
    dated_only = CV.replace("6 years of experience", "experience")
    # 2015 - 2019 and June 2019 - Jan 2020
    assert years_of_experience(dated_only, split_sections(dated_only), date(2020, 1, 1)) == 4.6


def _cv(sentences: list[str], lemmas: list[set[str]], vectors=None, **extra) -> CvEvidence:
    vectors = np.zeros((len(sentences), 4), np.float32) if vectors is None else vectors
    text = " ".join(sentences)
    return CvEvidence(sentences, lemmas, vectors, set(find_skills(text)), **extra)


def test_a_requirement_is_met_by_an_alias_with_its_evidence_sentence():
    (req,) = extract_requirements("Requirements\n- Experience with Kubernetes\n")
    sentences = ["Built REST APIs.", "Deployed services with k8s and Docker."]
    cv = _cv(sentences, [set(), set()], years=1.0, degree=None)
    match = match_requirement(req, {"kubernetes"}, np.zeros(4, np.float32), cv)
    assert match.met and match.found == ("Kubernetes",)
    assert match.evidence == "Deployed services with k8s and Docker."


def test_words_and_meaning_meet_a_requirement_the_lexicon_lacks():
    (req,) = extract_requirements("Requirements\n- Experience designing payment gateways\n")
    sentences = ["Designed the payment gateway of a bank.", "Likes hiking."]
    lemmas = [{"design", "payment", "gateway", "bank"}, {"like", "hike"}]
    cv = _cv(sentences, lemmas, years=1.0, degree=None)
    match = match_requirement(req, {"design", "payment", "gateway"}, np.zeros(4, np.float32), cv)
    assert match.met and match.evidence == sentences[0]
    assert match.how == "words"
    # a named skill ("payment gateways" is in the skills graph) is never met by meaning alone
    vectors = np.eye(4, dtype=np.float32)[:2]
    cv = _cv(sentences, [set(), set()], vectors, years=1.0, degree=None)
    match = match_requirement(req, {"unrelated"}, np.array([0, 1, 0, 0], np.float32), cv)
    assert match.status == "unclear" and not match.met and match.how == "similar"
    # a requirement naming no skill is, when the meaning is that of a paraphrase
    (req,) = extract_requirements("Requirements\n- Calm under pressure with demanding clients\n")
    match = match_requirement(req, {"unrelated"}, np.array([0, 1, 0, 0], np.float32), cv)
    assert match.met and match.evidence == "Likes hiking." and match.how == "similar"


def test_years_and_degrees_compare_as_numbers():
    years, degree = extract_requirements(
        "Requirements\n- 4+ years of experience\n- Master's degree in physics\n"
    )
    cv = _cv(["x"], [set()], years=2.0, degree=2)
    assert match_requirement(years, set(), np.zeros(4, np.float32), cv).score == 0.5
    assert match_requirement(degree, set(), np.zeros(4, np.float32), cv).score == 0.5


def test_fit_score_is_the_documented_weighted_sum_renormalised_without_an_interview():
    parts = {
        "must_have_coverage": 1.0,
        "nice_to_have_coverage": 0.0,
        "experience_fit": 1.0,
        "cv_job_similarity": 0.5,
        "answer_relevance": None,
    }
    used = [p for p in WEIGHTS if parts[p] is not None]
    expected = 100 * sum(WEIGHTS[p] * parts[p] for p in used) / sum(WEIGHTS[p] for p in used)
    assert weighted(parts, tuple(WEIGHTS)) == pytest.approx(expected)
    assert fit_parts([], 0.5, None)["must_have_coverage"] is None


def test_ranks_put_knocked_out_candidates_last_and_skip_errors():
    rows = [
        {"fit_score": 50.0, "knocked_out": False, "error": ""},
        {"fit_score": 90.0, "knocked_out": True, "error": ""},
        {"fit_score": None, "error": "bad file"},
        {"fit_score": 70.0, "knocked_out": False, "error": ""},
    ]
    assert rank(rows) == [2, 3, None, 1]


def test_sentence_spans_cover_bullets_and_lines():
    spans = sentence_spans("Skills\n• Python\n• Docker. Led a team.")
    assert [s for _, _, s in spans] == ["Skills", "Python", "Docker.", "Led a team."]


def test_requirements_end_at_a_blank_line_or_a_tail_heading_unless_a_bullet_follows():
    job = (
        "Requirements\n- Strong Python skills\n- Experience with Kubernetes\n\n"
        "- Experience with Terraform\n\n"  # a list split by a blank line (a page break) goes on
        "We are a small team in a big city and answer every application.\n"
        "Skills\n- Solid SQL\nWhat we offer\nA salary, and Docker training.\n"
        "Nice to have:\n- AWS certification\nBenefits\n- Free lunch\n"
    )
    assert [r.text for r in extract_requirements(job)] == [
        "Strong Python skills",
        "Experience with Kubernetes",
        "Experience with Terraform",
        "Solid SQL",
        "AWS certification",
    ]


def test_a_short_ad_ranks_by_what_it_says_not_by_empty_requirement_parts():
    from mmfuse.tasks.screening.scoring import FULL_AD_REQUIREMENTS, requirement_share

    parts = {
        "must_have_coverage": 0.0,
        "nice_to_have_coverage": None,
        "experience_fit": None,
        "cv_job_similarity": 0.8,
        "answer_relevance": None,
    }
    # a one-line ad: the similarity to it alone
    assert weighted(parts, tuple(WEIGHTS), requirements=1) == pytest.approx(80.0)
    # the requirement parts weigh in step by step, in full from FULL_AD_REQUIREMENTS
    shares = [requirement_share(n) for n in range(1, FULL_AD_REQUIREMENTS + 2)]
    assert shares[0] == 0 and shares[-2] == shares[-1] == 1 and shares == sorted(shares)
    full = weighted(parts, tuple(WEIGHTS), requirements=FULL_AD_REQUIREMENTS)
    assert full == pytest.approx(weighted(parts, tuple(WEIGHTS)))
