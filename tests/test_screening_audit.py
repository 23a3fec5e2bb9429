"""The fairness audit on a constructed table with known selection rates."""

from __future__ import annotations

import csv
import io

import pytest

from mmfuse import cli

# group -> (candidates, selected): rates 0.5, 0.45, 0.3 and a group of 3 with nobody selected
GROUPS = {"A": (20, 10), "B": (20, 9), "C": (20, 6), "D": (3, 0)}


def _write_tables(tmp_path):
    results = ["id,fit_score,error"]
    groups = ["id,group"]
    for name, (n, chosen) in GROUPS.items():
        for i in range(n):
            results.append(f"{name}{i},{80 if i < chosen else 40},")
            groups.append(f"{name}{i},{name}")
    results.append("broken,,could not read the CV")  # errors are left out
    groups.append("nogroup-person,A")
    results.append("ungrouped,95,")  # no group data: left out, and said so
    (tmp_path / "results.csv").write_text("\n".join(results) + "\n")
    (tmp_path / "groups.csv").write_text("\n".join(groups) + "\n")


@pytest.fixture
def audit_rows(tmp_path, capsys):
    _write_tables(tmp_path)
    code = cli.main(
        ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
         "--group-column", "group", "--threshold", "70", "-o", str(tmp_path / "audit.csv")]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr()
    assert "1 candidates have no group data" in printed.err
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(printed.out))}
    with open(tmp_path / "audit.csv", newline="") as stream:
        assert [r["group"] for r in csv.DictReader(stream)] == list(rows)
    return rows


def test_selection_rates_and_impact_ratios_are_as_constructed(audit_rows):
    expected = {"A": (0.5, 1.0), "B": (0.45, 0.9), "C": (0.3, 0.6), "D": (0.0, 0.0)}
    for group, (rate, ratio) in expected.items():
        assert float(audit_rows[group]["selection_rate"]) == pytest.approx(rate)
        assert float(audit_rows[group]["impact_ratio"]) == pytest.approx(ratio)
    assert list(audit_rows) == ["A", "B", "C", "D"]  # best-off first


def test_four_fifths_flags_and_plain_verdicts(audit_rows):
    assert audit_rows["A"]["four_fifths"] == "pass"
    assert audit_rows["B"]["four_fifths"] == "pass"
    assert audit_rows["C"]["four_fifths"] == "adverse impact"
    # 6/20 against 10/20: Fisher's exact p = 0.33, so not significant at this size
    assert float(audit_rows["C"]["p_value"]) == pytest.approx(0.3332, abs=1e-3)
    assert "not significant" in audit_rows["C"]["verdict"]
    assert audit_rows["D"]["verdict"].startswith("too small to judge")
    assert audit_rows["A"]["p_value"] == ""


def test_top_k_selects_the_best_scores(tmp_path, capsys):
    _write_tables(tmp_path)
    args = ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
            "--group-column", "group", "--top", "25"]  # fmt: skip
    assert cli.main(args) == 0
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert sum(int(r["selected"]) for r in rows.values()) == 24  # 25th is the ungrouped one


def test_a_missing_group_column_is_a_usage_error(tmp_path, capsys):
    _write_tables(tmp_path)
    args = ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
            "--group-column", "gender", "--top", "3"]  # fmt: skip
    assert cli.main(args) == 2
    assert "gender" in capsys.readouterr().err
