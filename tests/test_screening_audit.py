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
    with open(tmp_path / "audit.csv", encoding="utf-8-sig", newline="") as stream:
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
    # the ungrouped 95 is first; the 24 places left fall among 25 tied at 80: all 25 are in
    assert sum(int(r["selected"]) for r in rows.values()) == 25


def test_a_missing_group_column_is_a_usage_error(tmp_path, capsys):
    _write_tables(tmp_path)
    args = ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
            "--group-column", "gender", "--top", "3"]  # fmt: skip
    assert cli.main(args) == 2
    assert "gender" in capsys.readouterr().err


def _audit(tmp_path, results, groups, *flags):
    (tmp_path / "results.csv").write_text("\n".join(["id,fit_score,error", *results]) + "\n")
    (tmp_path / "groups.csv").write_text("\n".join(["id,group", *groups]) + "\n")
    return cli.main(
        ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv"),
         "--group-column", "group", *flags]
    )  # fmt: skip


def test_top_k_takes_every_candidate_tied_with_the_kth_whatever_the_row_order(tmp_path, capsys):
    # nine tied at 90 (A0-A3, B0-B4), the rest at 50: by row order --top 5 took A0-A3 and B0
    results = [
        f"{g}{i},{90 if i < (4 if g == 'A' else 5) else 50}," for g in "AB" for i in range(10)
    ]
    groups = [f"{g}{i},{g}" for g in "AB" for i in range(10)]
    printed = []
    for order in (results, results[::-1]):
        assert _audit(tmp_path, order, groups, "--top", "5") == 0
        printed.append(capsys.readouterr())
    assert printed[0].out == printed[1].out
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(printed[0].out))}
    assert (rows["A"]["selected"], rows["B"]["selected"]) == ("4", "5")
    assert "9 selected: the top 5 and the 4 tied with the last of them (score 90)" in printed[0].err


@pytest.mark.parametrize("duplicated", ["groups", "results"])
def test_a_duplicated_id_is_a_usage_error_naming_it(tmp_path, capsys, duplicated):
    results = [f"{g}{i},{80 if i < 3 else 40}," for g in "AB" for i in range(6)]
    groups = [f"{g}{i},{g}" for g in "AB" for i in range(6)]
    if duplicated == "groups":
        groups.append("B1,A")  # the last row won silently
    else:
        results.append("B1,80,")  # was counted twice
    assert _audit(tmp_path, results, groups, "--top", "6") == 2
    err = capsys.readouterr().err
    assert f"{duplicated}.csv" in err and "'B1' appears 2 times" in err


def test_unscored_rows_are_left_out_and_counted(tmp_path, capsys):
    results = [f"{g}{i},{80 if i < 3 else 40}," for g in "AB" for i in range(6)]
    results += ["A6,,", "A7,nan,", "A8,,could not read the CV"]  # no score: failed, not rejected
    groups = [f"{g}{i},{g}" for g in "AB" for i in range(9)]
    assert _audit(tmp_path, results, groups, "--threshold", "70") == 0
    printed = capsys.readouterr()
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(printed.out))}
    assert rows["A"]["candidates"] == "6"
    assert "3 row(s) without a score (failed) are left out" in printed.err


def test_a_single_group_has_nothing_to_compare(tmp_path, capsys):
    results = [f"A{i},{80 if i < 3 else 40}," for i in range(6)]
    assert _audit(tmp_path, results, [f"A{i},A" for i in range(6)], "--top", "3") == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["four_fifths"] == "n/a" and row["impact_ratio"] == ""
    assert row["verdict"].startswith("nothing to compare")


@pytest.mark.parametrize(
    ("threshold", "said"),
    [("nan", "not a finite number"), ("inf", "not a finite number"),
     ("-inf", "not a finite number"), ("90", "selects none"), ("10", "selects all")],
)  # fmt: skip
def test_a_threshold_that_is_not_finite_or_selects_all_or_none_is_refused(
    tmp_path, capsys, threshold, said
):
    results = [f"{g}{i},{80 if i < 3 else 40}," for g in "AB" for i in range(6)]
    groups = [f"{g}{i},{g}" for g in "AB" for i in range(6)]
    assert _audit(tmp_path, results, groups, f"--threshold={threshold}") == 2
    assert said in capsys.readouterr().err


def test_groups_keyed_by_names_join_through_the_id_key_or_say_how(tmp_path, capsys):
    results = ["cand-0000000001,90,", "cand-0000000002,80,", "cand-0000000003,40,",
               "cand-0000000004,30,"]  # fmt: skip
    groups = ["Maria Lopez,a", "Anna Nowak,b", "Tom Baker,a", "Chen Wei,b"]
    # without the key: exit 2 and one line saying what to do
    assert _audit(tmp_path, results, groups, "--top", "2") == 2
    error = capsys.readouterr().err
    assert "--id-key" in error and "original ids" in error
    (tmp_path / "key.csv").write_text(
        "id,original_id\ncand-0000000001,Maria Lopez\ncand-0000000002,Anna Nowak\n"
        "cand-0000000003,Tom Baker\ncand-0000000004,Chen Wei\n"
    )
    assert (
        _audit(tmp_path, results, groups, "--top", "2", "--id-key", str(tmp_path / "key.csv")) == 0
    )
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert set(rows) == {"a", "b"} and sum(int(r["selected"]) for r in rows.values()) == 2
