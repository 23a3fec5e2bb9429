"""Sound files in a wildlife survey: BirdNET detections in the same table (optional extra).

The unit tests stub the model; the integration test runs BirdNET V2.4 on a synthesized
cuckoo call (two falling notes a second, the bird's name) when ``mmfuse[sound]`` is installed.
"""

from __future__ import annotations

import csv
import wave

import numpy as np
import pytest
from helpers.wildlife import run_wildlife

from mmfuse import cli
from mmfuse.encoders import sound
from mmfuse.encoders.sound import SoundDetection
from mmfuse.tasks.wildlife.sound import Listener, SoundMedia

RATE = 44_100


def _write(path, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def cuckoo_call(seconds: int = 9, rate: int = RATE) -> np.ndarray:
    """A common cuckoo's "cu-coo" once a second: 690 Hz then 560 Hz, with a slight warble."""

    def note(freq: float, length: float) -> np.ndarray:
        t = np.arange(int(rate * length)) / rate
        return np.sqrt(np.sin(np.pi * t / length)) * np.sin(
            2 * np.pi * freq * t + 0.3 * np.sin(2 * np.pi * 5 * t)
        )

    out = np.zeros(rate * seconds)
    first, second = note(690, 0.18), note(560, 0.26)
    for k in range(seconds):
        start = k * rate
        out[start : start + len(first)] += first
        start += int(0.28 * rate)
        out[start : start + len(second)] += second
    return 0.3 * out + 0.003 * np.random.default_rng(0).normal(size=len(out))


class _Heard:
    """A stand-in for BirdNET that hears what it is told."""

    def __init__(self, detections):
        self.detections = detections

    def detect(self, audio, threshold):
        return [d for d in self.detections if d.confidence >= threshold]


def test_what_is_heard_fills_the_row_with_the_lists_names(monkeypatch):
    heard = [
        SoundDetection(0, 3, "Cuculus canorus", "Common Cuckoo", 0.6),
        SoundDetection(3, 6, "Cuculus canorus", "Common Cuckoo", 0.7),
        SoundDetection(3, 6, "Strix aluco", "Tawny Owl", 0.4),
        SoundDetection(6, 9, "Turdus merula", "Eurasian Blackbird", 0.2),
    ]
    monkeypatch.setattr(sound, "BirdNet", lambda: _Heard(heard))
    listener = Listener(["cuculus canorus", "zebra"], threshold=0.25)
    row = listener.columns(SoundMedia(np.zeros(48_000 * 9, np.float32), duration=9.0))
    assert row["category"] == "animal" and row["species"] == "cuculus canorus"  # the list's
    assert row["top_species"] == "cuculus canorus 0.70; Tawny Owl 0.40"  # the blackbird: 0.2
    assert row["count"] == 2 and row["prediction_level"] == "species"
    assert "cuculus canorus heard at 0-3 s, 3-6 s" in row["notes"]
    quiet = Listener([], threshold=0.8).columns(
        SoundMedia(np.zeros(48_000 * 60, np.float32), duration=3600.0)
    )
    assert quiet == {"category": "blank", "count": 0, "notes": "first 60 s analysed"}


def test_without_the_extra_a_sound_file_is_one_error_row(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("mmfuse.tasks.wildlife.sound.available", lambda: False)
    (tmp_path / "survey").mkdir()
    _write(tmp_path / "survey" / "dawn.wav", cuckoo_call(2))
    out = tmp_path / "out"
    code = cli.main(["run", "wildlife", str(tmp_path / "survey"), "-o", str(out), "--no-progress"])
    assert code == 1
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        (row,) = list(csv.DictReader(stream))
    assert "mmfuse[sound]" in row["error"] and "non-commercial" in row["error"]


@pytest.mark.integration
@pytest.mark.skipif(not sound.available(), reason="the optional BirdNET extra is not installed")
def test_birdnet_hears_the_cuckoo_and_not_the_wind(tmp_path):
    survey = tmp_path / "survey" / "wood" / "recorder1"
    survey.mkdir(parents=True)
    _write(survey / "dawn.wav", cuckoo_call())
    wind = np.random.default_rng(1).normal(size=RATE * 6)
    _write(survey / "wind.wav", 0.05 * np.convolve(wind, np.ones(50) / 50, mode="same"))
    species = "common cuckoo: a grey bird that calls its name\nzebra\n"
    rows = run_wildlife(tmp_path / "survey", tmp_path / "out", species)
    dawn, wind_row = rows["wood/recorder1/dawn"], rows["wood/recorder1/wind"]
    assert dawn["category"] == "animal" and dawn["species"] == "common cuckoo"
    assert float(dawn["species_score"]) >= 0.4 and "heard at 0-3 s" in dawn["notes"]
    assert wind_row["category"] == "blank" and wind_row["error"] == ""
