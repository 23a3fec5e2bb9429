"""`mmfuse label`: one row per image, per sampled frame and per video; bad files as rows."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import timm
import torch
from helpers.media import truncate, write_image, write_video
from test_image import FakeText

from mmfuse.cli import main
from mmfuse.commands import label as label_command
from mmfuse.encoders.image import TimmImageEncoder
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from mmfuse.tasks import label as label_task

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
    with open(path, encoding="utf-8", newline="") as f:
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
