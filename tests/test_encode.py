"""``mmfuse encode`` with the real default encoders: what each row says, embeddings, cache."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers.media import truncate, write_image, write_text, write_video, write_wav

from mmfuse.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "social_media"

pytestmark = pytest.mark.integration


def read_rows(out: Path) -> dict[str, dict]:
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as file:
        return {row["id"]: row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("encode") / "out"
    assert main(["encode", str(SAMPLE), "-o", str(out)]) == 0
    return out


def test_rows_describe_each_post(encoded):
    rows = read_rows(encoded)
    assert len(rows) == 8
    assert "headphones broke" in rows["post04_headphones"]["transcript"].lower()
    assert rows["post04_headphones"]["kinds"] == "audio+text"
    assert float(rows["post05_launch"]["duration_s"]) == pytest.approx(5.5, abs=0.2)
    assert "water bottle" in rows["post05_launch"]["transcript"].lower()
    assert rows["post07_cafe"]["language"] == "fr"
    assert rows["post02_monday"]["language"] == "en"
    temple = rows["post01_temple"]["visual_concepts"]
    assert any(word in temple for word in ("building", "palace", "structure")), temple
    assert rows["post02_monday"]["visual_concepts"] == ""
    assert all(row["error"] == "" for row in rows.values())


def test_parquet_holds_unit_embeddings(encoded):
    table = pq.read_table(encoded / "results.parquet").to_pylist()
    by_id = {row["id"]: row for row in table}
    text = np.array(by_id["post02_monday"]["text_embedding"])
    assert text.shape == (384,) and np.linalg.norm(text) == pytest.approx(1, abs=1e-3)
    assert by_id["post02_monday"]["visual_embedding"] is None
    assert len(by_id["post01_temple"]["visual_embedding"]) == 384
    assert len(by_id["post04_headphones"]["speech_embedding"]) == 384
    assert len(by_id["post04_headphones"]["voice_embedding"]) == 512  # Whisper base d_model


def test_second_run_is_served_from_the_cache(encoded, tmp_path):
    again = tmp_path / "again"
    assert main(["encode", str(SAMPLE), "-o", str(again)]) == 0
    manifest = json.loads((again / "manifest.json").read_text())
    assert manifest["items"]["from_cache"] == 8 and manifest["items"]["computed"] == 0
    assert (again / "results.csv").read_bytes() == (encoded / "results.csv").read_bytes()


def write_audio_only_mp4(path: Path) -> Path:
    """An MPEG-4 file with one AAC tone track and no video stream (a voice note)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = (0.3 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_bad_media_give_error_rows_and_the_run_goes_on(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(SAMPLE / "post02_monday.txt", root / "good.txt")
    write_wav(root / "silent.wav", amplitude=0.0)
    write_video(root / "mute.mp4", audio=False)
    truncate(write_image(root / "cut.jpg", size=(64, 64)))
    (root / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    write_text(root / "mute.txt", "a clip without sound")
    (root / "pair.jpg").write_bytes(b"")  # a broken photo beside its caption
    write_text(root / "pair.txt", "a caption whose photo is broken")
    write_audio_only_mp4(root / "voice.mp4")
    out = tmp_path / "out"

    assert main(["encode", str(root), "-o", str(out)]) == 1

    rows = read_rows(out)
    assert rows["good"]["error"] == ""
    # audio without speech is a note, as in every task (it is what was said: nothing)
    assert rows["silent"]["error"] == "" and "no speech detected" in rows["silent"]["notes"]
    assert rows["pair"]["error"] == "" and "pair.jpg: empty file" in rows["pair"]["notes"]
    assert rows["pair"]["text_words"] == "6"  # the caption was still read
    assert rows["voice"]["error"] == "" and rows["voice"]["kinds"] == "video"
    assert float(rows["voice"]["duration_s"]) > 0  # an audio-only .mp4 is read as audio
    assert "truncated" in rows["cut"]["error"]
    assert "not UTF-8" in rows["latin1"]["error"]
    assert rows["mute"]["error"] == "" and "no audio track" in rows["mute"]["notes"]
    assert int(rows["mute"]["n_frames"]) >= 1


def test_manifest_columns_pass_through_to_csv_and_parquet(tmp_path):
    export = SAMPLE.parent / "social_media_export" / "posts.csv"
    out = tmp_path / "out"
    assert main(["encode", str(export), "-o", str(out)]) == 0
    rows = read_rows(out)
    assert rows["t2"]["brand"] == "acme" and rows["t2"]["campaign"] == "spring"
    header = (out / "results.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[-2:] == ["notes", "error"] and "timestamp" in header
    table = pq.read_table(out / "results.parquet")
    assert table.column("brand").to_pylist()[1] == "acme"
