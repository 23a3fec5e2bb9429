"""A small real Task for engine tests: cheap deterministic features of text, images, audio, video.

``decode`` reads files the way the real readers do (strict UTF-8, ``load_image``,
``read_document``, PyAV) and raises ``InputError`` on what it cannot use; ``setup`` sleeps
``setup_delay`` seconds to stand in for loading models; ``process`` computes features, sleeps
``delay`` seconds per item to stand in for model time, and flags silent audio (no speech) as a
bad input, so process-stage error isolation is exercised too. Run as a script it is a complete
command: ``python -m helpers.toy_task INPUT -o OUT [run flags] [--delay S]`` (with tests/ on the
path), the same as ``mmfuse run toy`` once ``TASK_MODULES`` names this module (tests/conftest.py).
"""

from __future__ import annotations

import sys
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse import cli
from mmfuse.errors import InputError
from mmfuse.io.documents import read_document
from mmfuse.tasks.base import Task
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.types import Item

SAMPLE_RATE = 16_000
MAX_AUDIO_SECONDS = 30  # decoded audio per item is bounded, however long the file
MAX_VIDEO_FRAMES = 4
# RMS (full scale 1.0) under which a clip counts as silent: about -60 dBFS.
SILENCE_RMS = 1e-3
EMBEDDING_DIM = 8
SNIPPET_CHARS = 40
NUMERIC_COLUMNS = ("chars", "words", "width", "height", "mean_pixel", "seconds", "rms")


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path.name}: not UTF-8 text (byte {error.start})") from None


def _read_image(path: Path) -> dict:
    """The (width, height) and a uint8 [16, 16] greyscale thumbnail of an image. Pillow's own
    errors stay raw (the engine's isolation of unexpected errors is tested with them); the size
    is checked as the real reader does, before decoding."""
    from PIL import Image

    from mmfuse.io.image import check_image_size

    with Image.open(path) as image:
        check_image_size(image.size, path.name)
        return {"size": image.size, "thumb": np.asarray(image.convert("L").resize((16, 16)))}


def _read_audio(container) -> np.ndarray:
    """float32 [n] mono 16 kHz samples of the first audio stream, at most MAX_AUDIO_SECONDS."""
    import av

    if not container.streams.audio:
        raise InputError("no audio track")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks, total = [], 0
    for frame in container.decode(container.streams.audio[0]):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray().reshape(-1))
            total += chunks[-1].size
        if total >= MAX_AUDIO_SECONDS * SAMPLE_RATE:
            break
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def _check_wav(path: Path) -> None:
    with wave.open(str(path), "rb") as wav:
        expected = wav.getnframes()
        frames = len(wav.readframes(expected)) // (wav.getsampwidth() * wav.getnchannels())
    if frames < expected:
        raise InputError(f"{path.name}: truncated (header says {expected} frames, has {frames})")


def _read_av(path: Path, video: bool) -> dict:
    import av

    if path.suffix.lower() == ".wav":
        _check_wav(path)
    with av.open(str(path)) as container:
        if video and not container.streams.video:
            raise InputError(f"{path.name}: no video stream")
        if video and not container.streams.audio:
            raise InputError(f"{path.name}: video has no audio track")
        frames = []
        if video:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="gray").mean())
                if len(frames) == MAX_VIDEO_FRAMES:
                    break
            container.seek(0)
        return {"audio": _read_audio(container), "frames": frames}


@dataclass(frozen=True)
class ToyOptions:
    """The toy task's two knobs: stand-ins for model time."""

    delay: float = option(0.0, "model seconds per item", changes_no_row="time only")
    setup_delay: float = option(0.0, "model loading seconds", changes_no_row="time only")


@register_task("toy")
class ToyTask(Task):
    """Counts words, measures images, loudness and length of audio; ``delay`` s per item."""

    description = "A toy task for the tests: one row per item, with stand-ins for model time."
    examples = ("mmfuse run toy folder/ -o out/toy --delay 0.1",)

    Options = ToyOptions
    columns = ("id", "kinds", "snippet", *NUMERIC_COLUMNS, "error")

    def __init__(self, options=None, items=(), device=None):
        super().__init__(options, items, device)
        self.delay = self.options.delay
        self.setup_delay = self.options.setup_delay
        self.projection: np.ndarray | None = None
        self.setups = 0

    def settings(self) -> dict:
        return {"task": self.name, "version": 1, "embedding_dim": EMBEDDING_DIM}

    def setup(self) -> None:
        time.sleep(self.setup_delay)
        self.projection = np.random.default_rng(0).standard_normal(
            (len(NUMERIC_COLUMNS), EMBEDDING_DIM)
        )
        self.setups += 1

    def decode(self, item: Item) -> dict:
        decoded: dict = {}
        texts = [item.text] if item.text is not None else []
        texts += [_read_text(p) for p in item.files_of("text")]
        texts += [read_document(p) for p in item.files_of("document")]
        if texts:
            decoded["text"] = "\n".join(texts)
        if images := item.files_of("image"):
            decoded["image"] = _read_image(images[0])
        if audios := item.files_of("audio"):
            decoded["audio"] = _read_av(audios[0], video=False)["audio"]
        if videos := item.files_of("video"):
            clip = _read_av(videos[0], video=True)
            decoded["audio"], decoded["frames"] = clip["audio"], clip["frames"]
        if not decoded:
            raise InputError("nothing this task reads")
        return decoded

    def _features(self, decoded: dict) -> dict:
        row: dict = {"kinds": "+".join(sorted(decoded))}
        if "text" in decoded:
            row["snippet"] = decoded["text"][:SNIPPET_CHARS]
            row["chars"] = len(decoded["text"])
            row["words"] = len(decoded["text"].split())
        if "image" in decoded:
            row["width"], row["height"] = decoded["image"]["size"]
            row["mean_pixel"] = round(float(decoded["image"]["thumb"].mean()), 6)
        if "audio" in decoded:
            audio = decoded["audio"]
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
            if rms < SILENCE_RMS:
                raise InputError("no speech: the audio is silent")
            row["seconds"] = round(audio.size / SAMPLE_RATE, 6)
            row["rms"] = round(rms, 6)
        return row

    def process(self, batch: Sequence[tuple[Item, dict]]) -> list[dict]:
        if self.projection is None:
            raise RuntimeError("setup() was not called")
        time.sleep(self.delay * len(batch))
        rows = []
        for item, decoded in batch:
            row = {"id": item.id, **self._features(decoded)}
            numbers = [float(row.get(c) or 0) for c in NUMERIC_COLUMNS]
            row["embedding"] = (np.array(numbers) @ self.projection).astype(np.float32)
            rows.append(row)
        return rows


def main(argv: list[str] | None = None) -> int:
    """The toy task as a command (``mmfuse run toy``): discover, run, exit code (0, 1, 2 or 3)."""
    return cli.main(["run", "toy", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
