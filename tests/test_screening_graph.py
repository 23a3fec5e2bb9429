"""The skills graph, relevant years and degree fields (no model: fast)."""

from __future__ import annotations

from datetime import date

import pytest

from mmfuse.tasks.screening.graph import load_graph
from mmfuse.tasks.screening.matching import asked_skills
from mmfuse.tasks.screening.profile import degree_fields, experience_field, names_field, roles
from mmfuse.tasks.screening.profile import field_alternatives as stems


@pytest.mark.parametrize(
    ("sentence", "asked", "how"),
    [
        ("Queried PostgreSQL and BigQuery daily.", "SQL", "implied"),
        ("Wrote T-SQL stored procedures.", "SQL", "implied"),
        ("Built models with pandas and scikit-learn.", "Python", "implied"),
        ("Maintained Django websites.", "Python", "implied"),
        ("Ran randomized experiments on onboarding e-mails.", "A/B Testing", "synonym"),
        ("Built Looker reports.", "Dashboards", "implied"),
        ("Power BI reports for the CFO.", "Business Intelligence", "implied"),
        ("Deployed with k8s.", "Kubernetes", "synonym"),
        ("Strong SQL skills", "SQL", "exact"),
        # the tools of common IT roles (the curated layer)
        ("Built C#.NET services with ADO.NET and LINQ.", ".NET", "implied"),
        ("Wrote Hive queries and Sqoop imports.", "Hadoop", "implied"),
        ("Automated regression suites with Selenium WebDriver.", "Automation Testing", "implied"),
        ("Configured firewall rules and site-to-site VPNs.", "Network Security", "implied"),
        ("Wrote Solidity smart contracts.", "Blockchain", "implied"),
    ],
)
def test_a_mention_supports_what_it_names_or_implies(sentence, asked, how):
    graph = load_graph()
    relations = [graph.relation(asked, m) for m in graph.mentions(sentence)]
    assert how in [r[0] for r in relations if r], (sentence, graph.mentions(sentence))


def test_nothing_is_implied_by_a_topic_word_alone():
    graph = load_graph()
    sentence = "Former secondary school teacher moving into data analytics."
    assert not [m for m in graph.mentions(sentence) if graph.relation("Python", m)]
    # ordinary words count only when written as names
    assert not [m for m in graph.mentions("we react quickly and go home") if m.known]


def test_a_requirement_asks_for_the_skill_it_names_not_its_purpose():
    assert asked_skills("Python for data analysis") == ("Python",)
    assert asked_skills("Advanced Excel skills") == ("Excel",)  # not the vocabulary's name
    assert "Looker" in asked_skills("Experience building dashboards in a BI tool such as Looker")


def test_the_graph_says_where_it_comes_from():
    about = load_graph().about
    licences = " ".join(source.get("licence", "") for source in about["sources"])
    assert "CC BY 4.0" in licences and "MIT" in licences
    assert all(s.get("sha256") for s in about["sources"] if "wheel" in s)
    assert about["counts"]["vocabulary"] > 30_000 and about["counts"]["esco"] > 0


CV_ROLES = """History Teacher, Hillside Academy, September 2013 - July 2025
- Taught history and tracked student progress in spreadsheets.
June 2022 -
Present
Software Engineer (Front-End), Google
- Built React interfaces.
Data Analytics Bootcamp, September 2025 - November 2025
"""


def test_roles_keep_their_titles_and_training_is_not_experience():
    found = roles(CV_ROLES, date(2026, 12, 1))
    titles = [r.title for r in found]
    assert titles == [
        "History Teacher, Hillside Academy",
        "Software Engineer (Front-End), Google",
        "Data Analytics Bootcamp",
    ]
    assert [r.training for r in found] == [False, False, True]
    assert "Built React interfaces." in found[1].text


def test_the_field_of_an_experience_or_degree_requirement():
    field = experience_field("3+ years of experience in data analysis or marketing analytics")
    assert field == "data analysis or marketing analytics"
    assert names_field("Senior Marketing Analyst, ShopNow", stems(field))
    assert not names_field("Marketing Coordinator, Bloom Events", stems(field))
    assert names_field("Software Engineer", stems("software development"))  # role nouns alike
    assert experience_field("2 years as a Front End Developer or similar role") == (
        "Front End Developer"
    )
    assert degree_fields("A degree in Statistics, Economics or Computer Science") == (
        ["Statistics", "Economics", "Computer Science"],
        False,
    )
    assert degree_fields("Bachelor's degree in Computer Science or a related field") == (
        ["Computer Science"],
        True,
    )


def test_the_results_cache_key_follows_the_skills_graph(monkeypatch):
    from mmfuse.tasks.options import resolve
    from mmfuse.tasks.screening import ScreeningOptions, ScreeningTask, graph

    options = resolve(ScreeningOptions, {"job_text": "Requirements\n- Strong SQL skills\n"}, {})
    task = ScreeningTask(options)
    before = task.settings()["rules_sha256"]
    monkeypatch.setattr(graph, "graph_digest", lambda: "another graph")
    assert task.settings()["rules_sha256"] != before
