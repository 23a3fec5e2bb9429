"""Rebuilds the two synthetic interviews of sample_data/screening with espeak-ng.

Run once by a maintainer (``apt-get install espeak-ng``; the outputs are committed, so users
need neither): ``python scripts/make_screening_sample.py``. An interviewer's voice (en-gb)
reads each question of the candidate's ``questions.txt``; the candidate's voice (en-us)
answers at ``RATE_WPM`` espeak words a minute, with ``PAUSE_S`` of silence before each answer
and, for cand-b, a long hesitation inside one. cand-a's interview is a FLAC file; cand-b's is
an MP4 whose picture is dark (a camera left off), which the recording-quality check reports.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1] / "sample_data" / "screening" / "candidates"
SAMPLE_RATE = 16_000
RATE_WPM = 150  # espeak-ng -s: its nominal words a minute
PAUSE_S = 0.8  # silence between a question and its answer
ANSWERS = {
    "cand-a": [
        "I built the pipeline that loads shipment events into our warehouse. It runs on Spark "
        "and Kubernetes, reads two terabytes a day, and writes clean tables to PostgreSQL.",
        "Um, every job has data quality checks and alerts. We test the transformations in "
        "Python, and the Terraform code means we can rebuild the whole platform in an hour.",
    ],
    "cand-b": [
        "I mostly build REST APIs in Java. I have not built a large data pipeline yet, but I "
        "wrote some SQL reports for our payments team.",
        "Uh, I would add monitoring. [[3]] And, um, I would ask the team what they usually do.",
    ],
}


def speak(text: str, voice: str, rate: int = RATE_WPM) -> np.ndarray:
    """espeak-ng's rendering of ``text``: float32 [n] at 16 kHz ("[[S]]" is S s of silence)."""
    pieces = []
    for i, part in enumerate(text.split("[[")):
        if i:
            seconds, part = part.split("]]", 1)
            pieces.append(np.zeros(int(float(seconds) * SAMPLE_RATE), np.float32))
        if not part.strip():
            continue
        with tempfile.NamedTemporaryFile(suffix=".wav") as out:
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(rate), "-w", out.name, part.strip()],
                check=True,
            )
            with wave.open(out.name, "rb") as wav:
                rate_in = wav.getframerate()
                samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768.0
        positions = np.arange(0, len(samples), rate_in / SAMPLE_RATE)
        pieces.append(np.interp(positions, np.arange(len(samples)), samples).astype(np.float32))
    return np.concatenate(pieces)


def interview(name: str) -> np.ndarray:
    questions = (ROOT / name / "questions.txt").read_text(encoding="utf-8").splitlines()
    silence = np.zeros(int(PAUSE_S * SAMPLE_RATE), np.float32)
    parts = []
    for question, answer in zip(questions, ANSWERS[name], strict=True):
        parts += [speak(question, "en-gb"), silence, speak(answer, "en-us"), silence]
    return np.concatenate(parts)


def write_flac(audio: np.ndarray, path: Path) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            (audio * 32767).astype("<i2")[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_dark_video(audio: np.ndarray, path: Path, fps: int = 2) -> None:
    """A 160x120 MPEG-4 clip of near-black frames (a camera left off) over ``audio`` (AAC)."""
    import av

    seconds = len(audio) / SAMPLE_RATE
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        rng = np.random.default_rng(0)
        for _ in range(int(seconds * fps) + 1):
            image = rng.integers(0, 6, (120, 160, 3), dtype=np.uint8)  # sensor noise in the dark
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode())
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        container.mux(sound.encode(frame))
        container.mux(sound.encode())


def main() -> None:
    write_flac(interview("cand-a"), ROOT / "cand-a" / "interview.flac")
    write_dark_video(interview("cand-b"), ROOT / "cand-b" / "interview.mp4")


if __name__ == "__main__":
    main()
