"""Tiny media made in memory: the good items of the tasks' ``example_input`` (contract tests)."""

from __future__ import annotations

import io
import wave

import numpy as np

SAMPLE_RATE = 16_000  # Hz, what the speech encoders read


def png_bytes(width: int = 32, height: int = 24, seed: int = 0) -> bytes:
    """A random RGB PNG of ``width`` x ``height`` pixels."""
    from PIL import Image

    stream = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(stream, format="PNG")
    return stream.getvalue()


def wav_bytes(seconds: float = 0.5, hz: float = 440.0) -> bytes:
    """A mono 16-bit tone (no speech: its transcript is empty, quickly)."""
    stream = io.BytesIO()
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    with wave.open(stream, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes())
    return stream.getvalue()
