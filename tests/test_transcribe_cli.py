"""``mmfuse transcribe``: transcript formats, outputs per file, error lines and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import wave

import numpy as np
import pytest
from test_speech import tiny_whisper, words

from mmfuse.cli import main
from mmfuse.io.transcripts import format_timestamp, write_json, write_srt, write_txt, write_vtt
from mmfuse.types import Segment, Transcript

TRANSCRIPT = Transcript(
    language="en",
    language_prob=0.98,
    duration=3700.0,
    segments=[
        Segment(0.0, 2.5, "Hello there.", -0.2, 0.01),
        Segment(2.5, 3600.0, "General --> Kenobi.", -0.3, 0.02),
    ],
)


# ---------------------------------------------------------------- writers


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0.0, "00:00:00,000", "00:00:00.000"),
        (0.0014, "00:00:00,001", "00:00:00.001"),
        (59.9996, "00:01:00,000", "00:01:00.000"),
        (3661.5, "01:01:01,500", "01:01:01.500"),
        (-0.01, "00:00:00,000", "00:00:00.000"),
    ],
)
def test_timestamps_are_formatted_to_the_millisecond(seconds, srt, vtt):
    assert format_timestamp(seconds) == srt
    assert format_timestamp(seconds, ".") == vtt


def written(writer) -> str:
    stream = io.StringIO()
    writer(TRANSCRIPT, stream)
    return stream.getvalue()


def test_srt_has_numbered_cues_with_comma_milliseconds():
    assert written(write_srt) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n00:00:02,500 --> 01:00:00,000\nGeneral -> Kenobi.\n\n"
    )


def test_vtt_has_a_header_and_dot_milliseconds():
    assert written(write_vtt) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "00:00:02.500 --> 01:00:00.000\nGeneral -> Kenobi.\n\n"
    )


def test_txt_has_one_line_per_segment_and_json_reads_back():
    assert written(write_txt) == "Hello there.\nGeneral --> Kenobi.\n"
    data = json.loads(written(write_json))
    assert data["text"] == "Hello there. General --> Kenobi."
    assert Transcript.from_dict(data) == TRANSCRIPT


# ---------------------------------------------------------------- command


def write_noise_wav(path, seconds: float, seed: int = 0):
    samples = 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * 16000))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    """A tiny random-weight faster-whisper model id; decoding at one temperature keeps it fast."""
    import mmfuse.encoders.speech as speech

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMFUSE_CACHE", str(tmp_path_factory.getbasetemp() / "mmfuse-cache"))
        patch.setattr(speech, "TEMPERATURES", (0.0,))
        yield f"faster-whisper:{tiny_whisper(tmp_path_factory) / 'ct2'}"


@pytest.fixture
def media(tmp_path):
    """Two noise WAVs, a video without sound and a text file posing as audio."""
    import cv2

    write_noise_wav(tmp_path / "first.wav", 2.0)
    write_noise_wav(tmp_path / "second.wav", 1.5, seed=1)
    writer = cv2.VideoWriter(
        str(tmp_path / "mute.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48)
    )
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, dtype=np.uint8))
    writer.release()
    (tmp_path / "fake.wav").write_text("not audio\n" * 50)
    return tmp_path


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error:" in line]


def test_writes_every_format_per_file_and_goes_on_after_a_bad_file(
    tiny_model, media, tmp_path, capsys
):
    out = tmp_path / "out"
    inputs = [media / "first.wav", media / "mute.mp4", media / "fake.wav", media / "second.wav"]
    argv = ["transcribe", *map(str, inputs), "--model", tiny_model, "--no-vad", "-o", str(out)]
    code = main([*argv, "--format", "all"])
    errors = error_lines(capsys.readouterr().err)
    assert code == 1
    assert len(errors) == 2
    assert "mute.mp4: video has no audio track" in errors[0]
    assert "fake.wav: not a readable audio or video file" in errors[1]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{fmt}" for stem in ("first", "second") for fmt in ("txt", "srt", "vtt", "json")
    )
    transcript = Transcript.from_dict(json.loads((out / "first.json").read_text()))
    assert transcript.duration == pytest.approx(2.0) and transcript.segments
    srt = (out / "first.srt").read_text()
    assert srt.startswith("1\n") and len(re.findall(r"\d\d:\d\d:\d\d,\d{3} --> ", srt)) == len(
        transcript.segments
    )
    assert (out / "first.vtt").read_text().startswith("WEBVTT\n\n")
    assert (out / "first.txt").read_text().splitlines() == [s.text for s in transcript.segments]


def test_prints_text_to_stdout_without_an_output_folder(tiny_model, media, capsys):
    code = main(["transcribe", str(media / "first.wav"), "--model", tiny_model, "--no-vad"])
    captured = capsys.readouterr()
    assert code == 0 and not error_lines(captured.err)
    assert captured.out.strip() and "==>" not in captured.out

    files = [str(media / "first.wav"), str(media / "second.wav")]
    code = main(["transcribe", *files, "--model", tiny_model, "--format", "srt"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[0] == f"==> {media / 'first.wav'} <=="
    assert f"==> {media / 'second.wav'} <==" in lines


def test_silence_is_transcribed_as_nothing(tiny_model, tmp_path, capsys):
    silent = tmp_path / "silent.wav"
    with wave.open(str(silent), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\x00\x00" * 32000)
    assert main(["transcribe", str(silent), "--model", tiny_model]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("files", "options", "message"),
    [
        (["absent.wav"], [], "no such file or folder"),
        ([], ["--format", "all"], "give -o OUT_DIR"),
        ([], ["--model", "timm:tf_efficientnet_lite0"], "is not a speech model"),
        ([], ["--model", "faster-whisper:/no/such/folder"], "neither registered nor a local path"),
        ([], ["--language", "xx"], "unknown language code 'xx'"),
        (["sub/first.wav"], ["-o", "out"], "would both write first.*"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tiny_model, media, capsys, files, options, message):
    (media / "sub").mkdir()
    write_noise_wav(media / "sub" / "first.wav", 0.5)
    paths = [str(media / name) for name in ["first.wav", *files]]
    options = [str(media / "out") if option == "out" else option for option in options]
    assert main(["transcribe", *paths, "--model", tiny_model, *options]) == 2
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and message in errors[0]
    assert not (media / "out").exists()


@pytest.mark.integration
def test_default_model_transcribes_jfk(shared_data, capsys):
    assert main(["transcribe", str(shared_data / "speech" / "jfk" / "jfk.flac")]) == 0
    said = " ".join(words(capsys.readouterr().out))
    assert "ask not what your country can do for you" in said


# ---------------------------------------------------------------- through the batch engine


def test_output_into_the_input_folder_never_replaces_the_users_files(tiny_model, tmp_path, capsys):
    """Issue 14 #1: captions beside the videos (post.txt) are refused, not overwritten."""
    write_noise_wav(tmp_path / "post.wav", 1.0)
    write_noise_wav(tmp_path / "talk.wav", 1.0, seed=1)
    (tmp_path / "post.txt").write_text("my caption\n")
    argv = ["transcribe", str(tmp_path), "-o", str(tmp_path), "--model", tiny_model, "--no-vad"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "post.txt already exists; pass --overwrite" in err
    assert (tmp_path / "post.txt").read_text() == "my caption\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["post.txt", "post.wav", "talk.wav"]

    assert main([*argv, "--overwrite", "--no-progress"]) == 0
    assert (tmp_path / "post.txt").read_text() != "my caption\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "post.txt",
        "post.wav",
        "talk.txt",
        "talk.wav",
    ]
    # the same run again may replace what it wrote itself, not what the user edited since
    assert main([*argv, "--no-progress"]) == 0
    (tmp_path / "talk.txt").write_text("edited\n")
    assert main(argv) == 2
    assert (tmp_path / "talk.txt").read_text() == "edited\n"


def test_an_input_is_never_written_over_even_with_overwrite(tiny_model, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    audio = write_noise_wav(tmp_path / "in" / "clip.wav", 1.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.txt").symlink_to(audio)  # writing clip.txt would go into the input
    argv = ["transcribe", str(audio), "-o", str(out), "--model", tiny_model, "--overwrite"]
    assert main(argv) == 2
    assert "is one of the inputs" in capsys.readouterr().err
    assert audio.read_bytes()[:4] == b"RIFF"


def test_a_fifo_is_one_error_line_and_the_others_go_on(tiny_model, media, tmp_path, capsys):
    """Issue 14 #10: a FIFO is reported as such, never opened (no hang), never 'no such file'."""
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    argv = ["transcribe", str(fifo), str(media / "first.wav"), "--model", tiny_model]
    assert main([*argv, "--no-vad", "-o", str(out)]) == 1
    errors = error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "pipe.wav: not a regular file" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["first.txt"]


def test_run_transcribe_writes_transcripts_from_the_final_rows(tiny_model, media, tmp_path):
    out = tmp_path / "out"
    argv = ["run", "transcribe", str(media), "-o", str(out), "--model", tiny_model, "--no-vad"]
    assert main([*argv, "--format", "all", "--no-progress"]) == 1
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        rows = {row["id"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {"first", "second", "mute", "fake"}
    assert "no audio track" in rows["mute"]["error"]
    written = sorted(p.relative_to(out).as_posix() for p in (out / "transcripts").iterdir())
    formats = sorted(("txt", "srt", "vtt", "json"))
    assert written == [f"transcripts/{s}.{f}" for s in ("first", "second") for f in formats]
    transcript = Transcript.from_dict(json.loads(rows["first"]["segments"]))
    from_file = json.loads((out / "transcripts" / "first.json").read_text())
    assert Transcript.from_dict(from_file) == transcript and transcript.segments
