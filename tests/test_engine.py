"""The local engine and the runner: streaming, error isolation, cache, resume, outputs."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers.media import make_folder, write_text, write_wav
from helpers.toy_task import ToyTask, main

from mmfuse.cache import Cache
from mmfuse.commands.arguments import add_run_arguments, exit_code, resolve_options
from mmfuse.engines.local import prefetch_limit, run_local
from mmfuse.engines.options import RunOptions
from mmfuse.errors import UsageError
from mmfuse.io.discover import discover
from mmfuse.runner import JOURNAL, run_task

TESTS = Path(__file__).parent
NO_CACHE = RunOptions(use_cache=False, progress="off", workers=2, batch_size=4)


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def test_one_bad_item_in_a_batch_fails_alone(tmp_path):
    folder = make_folder(tmp_path / "in", 6)
    (folder / "item001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")  # decode fails
    write_wav(folder / "item004.wav", amplitude=0.0)  # silent: process fails
    (folder / "item004.png").unlink()
    rows = {r["id"]: r for r in run_local(ToyTask(), discover(folder), NO_CACHE)}
    assert sorted(rows) == [f"item{i:03d}" for i in range(6)]
    assert rows["item001"]["error"].startswith("UnidentifiedImageError")
    assert rows["item004"]["error"] == "no speech: the audio is silent"
    good = [r for i, r in rows.items() if i not in ("item001", "item004")]
    assert all(r["error"] == "" and r["kinds"] for r in good)
    assert rows["item002"]["seconds"] == 0.2


class _CountingTask(ToyTask):
    """Records how many items were decoded, and how many waited in memory at once."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.decoded = self.waiting = self.most_waiting = 0

    def decode(self, item):
        decoded = super().decode(item)
        with self.lock:
            self.decoded += 1
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
        return decoded

    def process(self, batch):
        with self.lock:
            self.waiting -= len(batch)
        return super().process(batch)


def test_rows_stream_out_with_a_bounded_number_of_decoded_items(tmp_path):
    items = discover(make_folder(tmp_path / "in", 60))
    task = _CountingTask()
    rows = run_local(task, items, NO_CACHE)
    next(rows)
    assert task.decoded <= prefetch_limit(NO_CACHE) < 60  # the first row came early
    assert len(list(rows)) == 59
    assert task.most_waiting <= prefetch_limit(NO_CACHE)


def test_a_run_writes_csv_parquet_and_manifest_in_item_order(tmp_path):
    folder = make_folder(tmp_path / "in", 7)
    write_text(folder / "bad.txt", "")  # empty
    result = run_task(ToyTask(), discover(folder), tmp_path / "out", NO_CACHE, ["toy", "in"])
    out = tmp_path / "out"
    rows = _csv(out / "results.csv")
    assert [r["id"] for r in rows] == ["bad", *(f"item{i:03d}" for i in range(7))]
    assert list(rows[0]) == list(ToyTask.columns)
    assert rows[0]["error"] == "bad.txt: empty file" and rows[1]["error"] == ""
    table = pq.read_table(out / "results.parquet")
    assert table.column("id").to_pylist() == [r["id"] for r in rows]
    assert len(table.column("embedding").to_pylist()[1]) == 8
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["items"] == {
        "total": 8,
        "ok": 7,
        "failed": 1,
        "from_cache": 0,
        "resumed": 0,
        "computed": 8,
    }
    assert manifest["failures"] == [{"id": "bad", "error": "bad.txt: empty file"}]
    assert manifest["command"] == "toy in" and manifest["settings"] == ToyTask().settings()
    assert manifest["outputs"] == ["results.csv", "results.parquet", "report.html", "manifest.json"]
    assert not (out / JOURNAL).exists()
    assert (result.rows_ok, result.rows_failed) == (7, 1)
    assert exit_code(result) == 1


def test_the_second_run_comes_from_the_cache_without_loading_models(tmp_path):
    items = discover(make_folder(tmp_path / "in", 9))
    options = RunOptions(progress="off", cache_dir=tmp_path / "cache")
    first = run_task(ToyTask(), items, tmp_path / "a", options, ["toy"])
    again = ToyTask()
    second = run_task(again, items, tmp_path / "b", options, ["toy"])
    assert (first.from_cache, second.from_cache) == (0, 9)
    assert again.setups == 0  # nothing to compute: models never loaded
    assert (tmp_path / "a/results.csv").read_bytes() == (tmp_path / "b/results.csv").read_bytes()
    assert exit_code(second) == 0


def test_a_changed_file_is_computed_again(tmp_path):
    folder = make_folder(tmp_path / "in", 3)
    options = RunOptions(progress="off", cache_dir=tmp_path / "cache")
    run_task(ToyTask(), discover(folder), tmp_path / "out", options, ["toy"])
    write_text(folder / "item000.txt", "a new and longer caption here")
    result = run_task(ToyTask(), discover(folder), tmp_path / "out", options, ["toy"])
    assert result.from_cache == 2
    assert _csv(tmp_path / "out/results.csv")[0]["words"] == "6"


def test_no_cache_neither_reads_nor_writes_the_cache(tmp_path):
    items = discover(make_folder(tmp_path / "in", 3))
    cache_dir = tmp_path / "cache"
    run_task(ToyTask(), items, tmp_path / "a", RunOptions(progress="off", cache_dir=cache_dir), [])
    options = RunOptions(progress="off", cache_dir=cache_dir, use_cache=False)
    result = run_task(ToyTask(), items, tmp_path / "b", options, [])
    assert result.from_cache == 0 and len(Cache(cache_dir / "results")) == 3


def test_another_runs_outputs_are_never_clobbered_without_overwrite(tmp_path):
    items = discover(make_folder(tmp_path / "in", 2))
    out = tmp_path / "out"
    run_task(ToyTask(), items, out, NO_CACHE, ["toy"])
    run_task(ToyTask(), items, out, NO_CACHE, ["toy", "again"])  # the same run: allowed

    class OtherSettings(ToyTask):
        def settings(self):
            return {**super().settings(), "threshold": 0.7}

    with pytest.raises(UsageError, match="another settings"):
        run_task(OtherSettings(), items, out, NO_CACHE, ["toy"])
    other_items = discover(make_folder(tmp_path / "elsewhere", 2))
    with pytest.raises(UsageError, match="another input"):
        run_task(ToyTask(), other_items, out, NO_CACHE, ["toy"])
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger/results.csv").write_text("someone's table\n")
    with pytest.raises(UsageError, match="unknown run"):
        run_task(ToyTask(), items, tmp_path / "stranger", NO_CACHE, ["toy"])
    overwrite = RunOptions(use_cache=False, progress="off", overwrite=True)
    run_task(OtherSettings(), items, out, overwrite, ["toy"])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["threshold"] == 0.7


def _journal_rows(out: Path) -> int:
    try:
        uri = f"file:{out / JOURNAL / 'cache.sqlite'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_killed_run_resumes_to_the_same_table(tmp_path):
    folder = make_folder(tmp_path / "in", 40)
    out = tmp_path / "out"
    # its own cache root: a killed process must not take the session's cache down with it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
           "MMFUSE_CACHE": str(tmp_path / "cache")}  # fmt: skip
    flags = ["--no-cache", "--batch-size", "2", "--workers", "2", "--delay", "0.1"]
    command = [sys.executable, "-m", "helpers.toy_task", str(folder), "-o", str(out), *flags]
    victim = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _journal_rows(out) < 10 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done_before = _journal_rows(out)
    assert 10 <= done_before < 40 and not (out / "results.csv").exists()

    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    assert main([str(folder), "-o", str(tmp_path / "ref"), *flags[:-2], "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["items"]["resumed"] >= done_before
    assert manifest["items"]["computed"] == 40 - manifest["items"]["resumed"]
    assert (out / "results.csv").read_bytes() == (tmp_path / "ref/results.csv").read_bytes()
    assert pq.read_table(out / "results.parquet").equals(
        pq.read_table(tmp_path / "ref/results.parquet")
    )


def test_exit_codes_and_usage_errors(tmp_path, capsys):
    folder = make_folder(tmp_path / "in", 2)
    assert main([str(folder), "-o", str(tmp_path / "ok")]) == 0
    write_text(folder / "empty.txt", "")
    assert main([str(folder), "-o", str(tmp_path / "partial")]) == 1
    assert "1 of 3 items failed" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), "-o", str(tmp_path / "x")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main([str(folder), "-o", str(tmp_path / "x"), "--workers", "0"]) == 2
    assert "--workers and --batch-size must be at least 1" in capsys.readouterr().err


def test_run_flags_build_the_options(tmp_path):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    args = parser.parse_args(
        ["-o", "out", "--engine", "ray", "--workers", "3", "--no-cache", "--progress", "-q"]
    )
    options, _ = resolve_options(args)
    assert (options.engine, options.workers, options.use_cache) == ("ray", 3, False)
    assert (options.progress, options.quiet, options.overwrite) == ("on", True, False)
    with pytest.raises(UsageError):
        RunOptions(engine="spark")


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path, capsys):
    items = discover(make_folder(tmp_path / "in", 3))
    run_task(ToyTask(), items, tmp_path / "a", RunOptions(use_cache=False), [])
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal: "auto" stays quiet
    run_task(ToyTask(), items, tmp_path / "b", RunOptions(use_cache=False, progress="on"), [])
    bar = capsys.readouterr().err
    assert "3/3" in bar and "ETA" in bar


def test_a_device_this_machine_lacks_is_one_line_and_exit_2(tmp_path, capsys):
    import torch

    folder = make_folder(tmp_path / "in", 1)
    bad = ["tpu", "cuda:x"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:1"])
    for device in bad:
        assert main([str(folder), "-o", str(tmp_path / device), "--device", device]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and repr(device) in err
        assert not (tmp_path / device).exists()  # refused before any work


def test_another_manifest_with_the_same_ids_does_not_replace_a_run(tmp_path, capsys):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("id,text\nt1,hello there\nt2,good morning\n", encoding="utf-8")
    second.write_text("id,text\nt1,other words\nt2,other things\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(first), "-o", str(out)]) == 0
    assert main([str(second), "-o", str(out)]) == 2
    assert f"another input ({first})" in capsys.readouterr().err
    assert main([str(first), "-o", str(out)]) == 0  # the same run again: resumes, no refusal

    first.write_text("id,text\nt1,hello there\nt2,changed\n", encoding="utf-8")
    assert main([str(first), "-o", str(out)]) == 2
    assert f"another version of {first}" in capsys.readouterr().err
    assert "hello there" in (out / "results.csv").read_text(encoding="utf-8-sig")


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, capsys):
    import fcntl

    folder = make_folder(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    held = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a run in another process does
        assert main([str(folder), "-o", str(out)]) == 2
        assert "another mmfuse run is writing to" in capsys.readouterr().err
    finally:
        os.close(held)
    assert main([str(folder), "-o", str(out)]) == 0


def test_ctrl_c_prints_one_line_and_a_rerun_resumes(tmp_path):
    folder = make_folder(tmp_path / "in", 30)
    out = tmp_path / "out"
    # its own cache root: a killed process must not take the session's cache down with it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
           "MMFUSE_CACHE": str(tmp_path / "cache")}  # fmt: skip
    # 0.3 s an item: after the 6th row, 7 s of work remain for the signal to land in
    flags = ["--no-cache", "--batch-size", "2", "--workers", "2", "--delay", "0.3"]
    command = [sys.executable, "-m", "helpers.toy_task", str(folder), "-o", str(out), *flags]
    run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _journal_rows(out) < 6 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert "interrupted:" in line and "of 30 items are done" in line and "resume" in line
    again = subprocess.run(command, env=env, capture_output=True)
    assert again.returncode == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["items"]["resumed"] >= 6


def test_a_mistyped_input_is_refused_before_any_model_library_loads(tmp_path):
    check = (
        "import sys; from mmfuse.cli import main; "
        f"code = main(['run', 'social-media', {str(tmp_path / 'typo')!r}, '-o', 'x']); "
        "print(code, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.stdout.split() == ["2", "False"]
    assert "input not found" in done.stderr and "typo" in done.stderr
