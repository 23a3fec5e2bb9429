"""Interview metrics: delivery from word times, answer alignment, recording quality; the
speaking rate of an espeak-ng interview at a known rate (integration)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mmfuse.tasks.screening.interview import (
    LONG_PAUSE_S,
    align_answers,
    delivery,
    recording_quality,
    split_at_pauses,
)


@dataclass
class W:
    start: float
    end: float
    text: str


def _words(texts: list[str], step: float = 0.4, gaps: dict[int, float] | None = None) -> list[W]:
    words, t = [], 0.0
    for i, text in enumerate(texts):
        t += (gaps or {}).get(i, 0.0)
        words.append(W(t, t + step, text))
        t += step
    return words


def test_rate_pauses_and_fillers_from_word_times():
    plain = delivery(_words(["word"] * 30))  # 30 words in 12 s: 150 a minute
    assert plain.speaking_rate_wpm == pytest.approx(150.0)
    assert plain.pause_ratio == 0 and plain.long_pauses == 0
    paused = delivery(_words(["um,", *["word"] * 28, "Uh."], gaps={10: 3.0, 20: 1.0}))
    assert paused.speaking_rate_wpm == pytest.approx(150.0)  # pauses are not speaking time
    assert paused.pause_ratio == pytest.approx(4.0 / 16.0)
    assert paused.long_pauses == 1 and LONG_PAUSE_S <= 3.0
    assert paused.filler_rate == pytest.approx(2 / 30, abs=1e-4)
    assert delivery([]).speaking_rate_wpm is None


def test_answers_follow_the_questions_heard_in_the_transcript():
    segments = _words(["q1", "a", "a", "q2", "a"])
    vectors = np.array([[1, 0], [0.2, 0.1], [0.1, 0.2], [0, 1], [0.3, 0.3]], np.float32)
    questions = np.eye(2, dtype=np.float32)
    assert align_answers(vectors, questions, segments) == [[1, 2], [4]]


def test_unheard_questions_split_the_answers_at_the_longest_pauses():
    segments = _words(["a", "b", "c", "d"], gaps={2: 5.0})
    assert split_at_pauses(segments, 2) == [[0, 1], [2, 3]]
    vectors = np.zeros((4, 2), np.float32)
    assert align_answers(vectors, np.eye(2, dtype=np.float32), segments) == [[0, 1], [2, 3]]


def test_recording_quality_reports_a_dark_or_frozen_picture_and_scores_nobody():
    rng = np.random.default_rng(0)
    dark = [rng.integers(0, 6, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    assert recording_quality(dark).label() == "camera off"
    still = rng.integers(40, 200, (120, 160, 3), dtype=np.uint8)
    frozen = recording_quality([still.copy() for _ in range(4)])
    assert frozen.frozen and "picture frozen" in frozen.label()
    assert "no face visible" in frozen.label()
    assert recording_quality([]).label() == "audio only"


SCRIPT = (
    "I have worked as a backend engineer for six years. Most of my work is in Python and "
    "Java. I built payment services that handle thousands of requests every second. I also "
    "led a small team of four developers and reviewed their code every week."
)


def _espeak(text: str, path, rate: int = 150, ssml: bool = False) -> float:
    command = ["espeak-ng", "-s", str(rate), "-w", str(path), *(["-m"] if ssml else []), text]
    subprocess.run(command, check=True, capture_output=True)
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_synthesized_interview_rate_and_inserted_silences(tmp_path):
    from mmfuse.encoders.base import create_encoder
    from mmfuse.io.audio import load_audio
    from mmfuse.registry import default_model
    from mmfuse.tasks.screening.interview import FILLER_PROMPT

    sentences = [s + "." for s in SCRIPT.split(". ") if s]
    sentences[-1] = sentences[-1].rstrip(".") + "."
    seconds = _espeak(SCRIPT, tmp_path / "plain.wav")
    known_wpm = len(SCRIPT.split()) / seconds * 60  # the words spoken over the file's length
    silence = 3.0
    pause = f'<break time="{silence:g}s"/>'
    ssml = "<speak>" + pause.join(sentences) + "</speak>"
    _espeak(ssml, tmp_path / "paused.wav", ssml=True)
    speech = create_encoder(default_model("speech"), "cpu")
    measured = {}
    for name in ("plain", "paused"):
        _, words = speech.transcribe_words(
            load_audio(tmp_path / f"{name}.wav"), language="en", prompt=FILLER_PROMPT
        )
        measured[name] = delivery(words)
    assert measured["plain"].speaking_rate_wpm == pytest.approx(known_wpm, rel=0.10)
    assert measured["paused"].speaking_rate_wpm == pytest.approx(known_wpm, rel=0.10)
    assert measured["plain"].pause_ratio < 0.05
    inserted = silence * (len(sentences) - 1)
    # the silences show in the pause ratio: at least half their share of the span
    span = seconds + inserted
    assert measured["paused"].pause_ratio > 0.5 * inserted / span
    assert measured["paused"].long_pauses >= len(sentences) - 2
    print({k: (v.speaking_rate_wpm, v.pause_ratio) for k, v in measured.items()}, known_wpm)


@pytest.mark.integration
def test_the_sample_interview_is_transcribed_without_invented_answers():
    """cand-b's interview ends in silence, where Whisper, conditioned on its own previous
    window, once looped "I would add a data pipeline." (113 words for 62 spoken)."""
    from mmfuse.encoders.base import create_encoder
    from mmfuse.registry import default_model
    from mmfuse.tasks.screening.answers import read_recording
    from mmfuse.tasks.screening.interview import FILLER_PROMPT

    path = Path(__file__).resolve().parents[1] / "sample_data/screening/candidates/cand-b"
    recording = read_recording(path / "interview.mp4")
    speech = create_encoder(default_model("speech"), "cpu")
    segments, words = speech.transcribe_words(recording.audio, language="en", prompt=FILLER_PROMPT)
    text = " ".join(s.text for s in segments)
    assert "I have not built a large data pipeline yet" in text
    assert text.count("I would add a data pipeline") <= 1
    assert len(words) < 80
