"""Sound files of a survey (acoustic recorders beside the cameras): one row each, like a photo's.

With the optional BirdNET model installed (``mmfuse[sound]``, ``mmfuse.encoders.sound``), a
file's first ``max_sound_s`` seconds are read at 48 kHz and every 3-second window is scored;
the species heard (at least ``sound_threshold`` in some window) fill the row: ``species`` the
one with the highest score, ``top_species`` the three best with their best scores, ``count``
how many species were heard, and ``notes`` when each was heard. A species list maps BirdNET's
names to the list's own (a line naming the common or the scientific name); species not on the
list are still reported under BirdNET's common name. Without the extra, a sound file is one
error row saying how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.encoders.sound import INSTALL, SAMPLE_RATE, SoundDetection, available
from mmfuse.errors import InputError

NOTED = 5  # species whose times the notes give


@dataclass
class SoundMedia:
    """A decoded sound file: 48 kHz mono samples, and the file's whole length in seconds."""

    audio: np.ndarray
    duration: float


def read_sound(path: Path, max_seconds: float) -> SoundMedia:
    """Decodes a sound file's first ``max_seconds`` (file IO only).

    Raises:
        InputError: the BirdNET extra is missing, or the file cannot be decoded.
    """
    if not available():
        raise InputError(f"a sound file needs the optional BirdNET model: {INSTALL}")
    from mmfuse.io.audio import audio_duration, load_audio

    audio = load_audio(path, SAMPLE_RATE, max_seconds)
    return SoundMedia(audio, audio_duration(path))


class Listener:
    """Names what is heard in sound files (see the module docstring).

    Args:
        names: the species list's names (may be empty).
        threshold: the score a window needs for a detection.
    """

    def __init__(self, names: Sequence[str], threshold: float):
        from mmfuse.encoders.sound import BirdNet

        self.model = BirdNet()
        self.threshold = threshold
        self.listed = {name.casefold(): name for name in names}

    def _name(self, detection: SoundDetection) -> str:
        for key in (detection.common, detection.scientific):
            if key.casefold() in self.listed:
                return self.listed[key.casefold()]
        return detection.common

    def columns(self, media: SoundMedia) -> dict:
        """The row's category, species, scores, count and notes for one sound file."""
        heard = self.model.detect(media.audio, self.threshold)
        analysed = len(media.audio) / SAMPLE_RATE
        notes = [] if analysed >= media.duration - 1 else [f"first {analysed:.0f} s analysed"]
        if not heard:
            return {"category": "blank", "count": 0, "notes": "; ".join(notes)}
        best: dict[str, float] = {}
        times: dict[str, list[SoundDetection]] = {}
        for detection in heard:
            name = self._name(detection)
            best[name] = max(best.get(name, 0.0), detection.confidence)
            times.setdefault(name, []).append(detection)
        ranked = sorted(best, key=lambda n: -best[n])
        notes += [
            f"{name} heard at " + ", ".join(f"{d.start:.0f}-{d.end:.0f} s" for d in times[name])
            for name in ranked[:NOTED]
        ]
        return {
            "category": "animal",
            "species": ranked[0],
            "species_score": round(best[ranked[0]], 4),
            "top_species": "; ".join(f"{n} {best[n]:.2f}" for n in ranked[:3]),
            "prediction_level": "species",
            "count": len(ranked),
            "notes": "; ".join(["BirdNET", *notes]),
        }
