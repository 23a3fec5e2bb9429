"""`mmfuse label`: one row per image, per sampled frame and per video; bad files as rows."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import timm
import torch
from helpers.media import truncate, write_image, write_video
from test_image import FakeText

from mmfuse.cli import main
from mmfuse.commands import label as label_command
from mmfuse.encoders.image import TimmImageEncoder
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, UsageError
from mmfuse.tasks import label as label_task
from mmfuse.tasks.label import LabelOptions

LABELS = ["cat", "dog", "a red car"]
PROB_COLUMNS = [f"p_{label}" for label in LABELS]


@pytest.fixture
def tiny_encoder(monkeypatch):
    """`mmfuse label` with a tiny random-weight model and a fake text encoder."""
    torch.manual_seed(0)
    model = timm.create_model("test_efficientnet", pretrained=False)
    encoder = TimmImageEncoder(model, "timm:test_efficientnet", "cpu", FakeText())
    monkeypatch.setattr(label_task, "create_encoder", lambda model_id, device=None: encoder)
    return encoder


def run_label(*args: str, capsys=None) -> tuple[int, list[dict]]:
    code = main(["-q", "label", *args])
    if capsys is None:
        return code, []
    return code, list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def read_rows(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def check_good_row(row: dict, top_k: int = 3) -> None:
    probs = np.array([float(row[c]) for c in PROB_COLUMNS])
    assert probs.sum() == pytest.approx(1.0, abs=2e-3)
    assert row["top_label"] == LABELS[int(probs.argmax())]
    assert float(row["top_prob"]) == pytest.approx(probs.max(), abs=1e-4)
    assert len(row["top_labels"].split("; ")) == min(top_k, len(LABELS))
    assert row["error"] == ""


def test_images_with_a_bad_file_among_them(tmp_path, tiny_encoder):
    good = [write_image(tmp_path / f"{name}.png", seed=i) for i, name in enumerate("ab")]
    cut = truncate(write_image(tmp_path / "cut.jpg", size=(64, 64)))
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a picture")
    out = tmp_path / "labels.csv"
    code, _ = run_label(
        str(good[0]),
        str(cut),
        str(fake),
        str(good[1]),
        "--labels",
        ",".join(LABELS),
        "-o",
        str(out),
    )
    assert code == EXIT_PARTIAL
    rows = read_rows(out)
    assert list(rows[0]) == [*label_command.FIXED_COLUMNS, *PROB_COLUMNS, "error"]
    assert [r["file"] for r in rows] == [str(good[0]), str(cut), str(fake), str(good[1])]
    for row in (rows[0], rows[3]):
        check_good_row(row)
        assert row["time"] == "" and row["frames"] == "1"
    for row, message in ((rows[1], "truncated"), (rows[2], "not an image")):
        assert message in row["error"] and "\n" not in row["error"]
        assert row["top_label"] == "" and row["p_cat"] == ""


def test_video_gives_frame_rows_then_their_mean(tmp_path, tiny_encoder, capsys):
    clip = write_video(tmp_path / "clip.mp4", frames=6, audio=False)  # 8 fps: 0.75 s
    image = write_image(tmp_path / "still.png")
    code, rows = run_label(
        str(image),
        str(clip),
        "--labels",
        ",".join(LABELS),
        "--every",
        "0.25",
        "--top-k",
        "2",
        capsys=capsys,
    )
    assert code == EXIT_OK
    assert [r["file"] for r in rows] == [str(image)] + [str(clip)] * 4
    frames, whole = rows[1:4], rows[4]
    assert [float(r["time"]) for r in frames] == pytest.approx([0.0, 0.25, 0.5])
    assert whole["time"] == "" and whole["frames"] == "3"
    for row in rows:
        check_good_row(row, top_k=2)
    for column in PROB_COLUMNS:
        mean = np.mean([float(r[column]) for r in frames])
        assert float(whole[column]) == pytest.approx(mean, abs=2e-4)


def test_folders_are_searched_for_images_and_videos(tmp_path, tiny_encoder, capsys):
    write_image(tmp_path / "one.jpg")
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "two.png", seed=1)
    (tmp_path / "notes.txt").write_text("not media")
    labels_file = tmp_path / "labels.list"
    labels_file.write_text("\n".join(LABELS) + "\n\n")
    code, rows = run_label(str(tmp_path), "--labels", f"@{labels_file}", capsys=capsys)
    assert code == EXIT_OK
    assert [r["file"] for r in rows] == [str(tmp_path / "one.jpg"), str(tmp_path / "sub/two.png")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "--labels", "cat,dog"], "no such file"),
        (["{image}", "--labels", "cat"], "at least two labels"),
        (["{image}", "--labels", "cat,dog,cat"], "duplicate labels: cat"),
        (
            ["{image}", "--labels", "cat,dog", "--model", "faster-whisper:base"],
            "not an image model",
        ),
        (["{image}", "--labels", "cat,dog", "--every", "0"], "--every"),
        (["{image}", "--labels", "cat,dog", "--top-k", "0"], "--top-k"),
        (["{image}", "--labels", "@{missing}"], "cannot read labels file"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    image = write_image(tmp_path / "a.png")
    filled = [a.format(missing=tmp_path / "nope.png", image=image) for a in args]
    assert main(["label", *filled]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.integration
def test_chelsea_is_labelled_cat(shared_data, capsys):
    chelsea = shared_data / "images/skimage_captions/chelsea.png"
    code, rows = run_label(str(chelsea), "--labels", "cat,dog,car,person,food", capsys=capsys)
    assert code == EXIT_OK and rows[0]["top_label"] == "cat"


@pytest.mark.integration
def test_camera_trap_folder_every_file_gets_a_row(shared_data, capsys):
    folder = shared_data / "images/speciesnet"
    labels = "elephant,bear,dog,cattle,person,vehicle,empty scene"
    code, rows = run_label(str(folder), "--labels", labels, capsys=capsys)
    assert code == EXIT_PARTIAL  # the truncated copy
    assert len(rows) == len(list(folder.glob("*.jpg")))
    errors = {r["file"].rsplit("/", 1)[-1] for r in rows if r["error"]}
    assert errors == {"african_elephants_truncated_file.jpg"}
    elephants = [r for r in rows if "elephant" in r["file"] and not r["error"]]
    assert [r["top_label"] for r in elephants] == ["elephant"] * len(elephants)


# ---------------------------------------------------------------- through the batch engine


def test_a_second_run_comes_from_the_cache_and_its_manifest_says_so(tmp_path, tiny_encoder):
    folder = tmp_path / "in"
    for i in range(3):
        write_image(folder / f"img{i}.png", seed=i)
    write_video(folder / "clip.mp4", frames=6, audio=False)
    args = [str(folder), "--labels", ",".join(LABELS), "--every", "0.25", "--no-progress"]
    runs = tmp_path / "runs"
    assert main(["-q", "label", *args, "-o", str(tmp_path / "a.csv"), "--run-dir", str(runs)]) == 0
    first = json.loads((runs / "manifest.json").read_text())
    assert first["items"] == {**first["items"], "computed": 4, "from_cache": 0}
    assert first["task"] == "label" and first["options"]["labels"] == LABELS

    runs2 = tmp_path / "runs2"
    assert main(["label", *args, "-o", str(tmp_path / "b.csv"), "--run-dir", str(runs2), "-q"]) == 0
    second = json.loads((runs2 / "manifest.json").read_text())
    assert second["items"] == {**second["items"], "from_cache": 4, "computed": 0}
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    assert len(read_rows(tmp_path / "b.csv")) == 3 + 3 + 1  # images, frames, the video


def test_without_run_dir_the_run_files_live_under_the_cache_root(tmp_path, tiny_encoder):
    image = write_image(tmp_path / "in" / "a.png")
    out = tmp_path / "out" / "labels.csv"
    args = ["label", str(image), "--labels", "cat,dog", "-o", str(out), "--no-progress"]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.csv"]
    manifests = list((tmp_path / "cache" / "runs").glob("label-*/manifest.json"))
    assert len(manifests) == 1
    # the same command again: same run folder, the output replaced since this run wrote it
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert json.loads(manifests[0].read_text())["items"]["from_cache"] == 1
    # a file this run did not write is not replaced without --overwrite
    out.write_text("mine\n")
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == EXIT_USAGE
    assert out.read_text() == "mine\n"
    assert main([*args, "--cache-dir", str(tmp_path / "cache"), "--overwrite"]) == 0
    assert read_rows(out)[0]["file"] == str(image)


def test_run_label_writes_one_row_per_item_with_its_frames_inside(tmp_path, tiny_encoder):
    folder = tmp_path / "in"
    write_image(folder / "still.png")
    write_video(folder / "clip.mp4", frames=6, audio=False)
    out = tmp_path / "out"
    argv = ["run", "label", str(folder), "-o", str(out), "--labels", ",".join(LABELS)]
    assert main([*argv, "--every", "0.25", "--no-progress"]) == EXIT_OK
    items = {row["id"]: row for row in read_rows(out / "results.csv")}
    assert set(items) == {"still", "clip"}
    detail = json.loads(items["clip"]["detail"])
    assert [e["time"] for e in detail] == [0.0, 0.25, 0.5, None]
    files = read_rows(out / "labels.csv")
    assert [(r["file"], r["time"]) for r in files] == [
        ("clip.mp4", "0.0"),
        ("clip.mp4", "0.25"),
        ("clip.mp4", "0.5"),
        ("clip.mp4", ""),
        ("still.png", ""),
    ]
    assert files[3]["top_label"] == items["clip"]["top_label"]


def _journal_rows(run_dir) -> int:
    try:
        uri = f"file:{run_dir / 'results.partial' / 'cache.sqlite'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=1) as conn:
            return conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_killed_label_run_resumes_to_the_same_table(tmp_path):
    """The real default model in a subprocess, killed with SIGKILL midway, then run again."""
    n = 120
    for i in range(n):
        write_image(tmp_path / "in" / f"img{i:03d}.png", seed=i, size=(32, 24))
    flags = ["--labels", "cat,dog,car", "--no-cache", "--batch-size", "1", "--workers", "1"]
    # its own cache root: the killed process must not take the session's cache down with it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MMFUSE_CACHE": str(tmp_path / "cache")}

    def command(name: str) -> list[str]:
        out, runs = tmp_path / f"{name}.csv", tmp_path / f"{name}.run"
        cli = [sys.executable, "-m", "mmfuse.cli", "-q", "label", str(tmp_path / "in")]
        return [*cli, *flags, "-o", str(out), "--run-dir", str(runs), "--no-progress"]

    victim = subprocess.Popen(command("killed"), env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _journal_rows(tmp_path / "killed.run") < 5 and time.monotonic() < deadline:
        if victim.poll() is not None:
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done_before = _journal_rows(tmp_path / "killed.run")
    assert 5 <= done_before < n and not (tmp_path / "killed.csv").exists()

    assert subprocess.run(command("killed"), env=env, capture_output=True).returncode == 0
    assert subprocess.run(command("whole"), env=env, capture_output=True).returncode == 0
    manifest = json.loads((tmp_path / "killed.run" / "manifest.json").read_text())
    assert manifest["items"]["resumed"] >= done_before
    assert manifest["items"]["computed"] == n - manifest["items"]["resumed"]
    assert (tmp_path / "killed.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert len(read_rows(tmp_path / "whole.csv")) == n


# ---------------------------------------------------------------- hardening (issue 14)


def test_a_dangling_link_among_the_files_is_one_error_row(tmp_path, tiny_encoder, capsys):
    good = write_image(tmp_path / "good.png")
    dangling = tmp_path / "gone.jpg"
    dangling.symlink_to(tmp_path / "deleted.jpg")
    folder = tmp_path / "folder"
    write_image(folder / "inside.png", seed=1)
    (folder / "loop.png").symlink_to(folder / "loop.png")  # a link to itself
    code, rows = run_label(
        str(good), str(dangling), str(folder), "--labels", "cat,dog", capsys=capsys
    )
    assert code == EXIT_PARTIAL
    by_file = {row["file"]: row for row in rows}
    inside, loop = str(folder / "inside.png"), str(folder / "loop.png")
    assert list(by_file) == [str(good), str(dangling), inside, loop]
    assert by_file[str(good)]["error"] == by_file[inside]["error"] == ""
    assert "broken link" in by_file[str(dangling)]["error"]
    assert "cannot read" in by_file[loop]["error"]


@pytest.mark.parametrize("command", ["label", "encode"])
def test_every_zero_is_refused_once_at_the_boundary(tmp_path, capsys, command):
    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "clip.mp4", frames=6, audio=False)
    argv = [str(tmp_path / "in"), "--every", "0"]
    if command == "label":
        argv += ["--labels", "cat,dog"]
    else:
        argv = ["encode", *argv, "-o", str(tmp_path / "out")]
    assert main(["label", *argv] if command == "label" else argv) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "--every must be more than 0 seconds" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
    with pytest.raises(UsageError, match="--every"):
        LabelOptions(labels=("cat", "dog"), every_s=0.0)


def test_under_the_cache_root_every_folder_is_0700_and_every_file_0600(tmp_path, tiny_encoder):
    # issue 25 #13: a 0755 cache root made the run folder 0755 and results.csv 0644
    previous = os.umask(0o022)
    try:
        root = tmp_path / "cache"
        root.mkdir(mode=0o755)
        (root / "runs").mkdir(mode=0o755)  # left by an older version: made private on use
        image = write_image(tmp_path / "in" / "a.png")
        out = tmp_path / "out" / "labels.csv"
        args = ["label", str(image), "--labels", "cat,dog", "-o", str(out), "--no-progress"]
        assert main([*args, "--cache-dir", str(root)]) == 0
    finally:
        os.umask(previous)
    written = list(root.rglob("*"))
    assert any(p.name == "results.csv" for p in written)
    for path in written:
        expected = 0o700 if path.is_dir() else 0o600
        assert oct(path.stat().st_mode & 0o777) == oct(expected), path.relative_to(root)
    assert root.stat().st_mode & 0o777 == 0o755  # the root is the user's folder
    # what the user named with -o keeps the ordinary modes
    assert out.stat().st_mode & 0o777 == 0o644
    assert out.parent.stat().st_mode & 0o777 == 0o755
