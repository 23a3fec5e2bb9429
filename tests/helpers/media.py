"""Synthetic media for tests, written at test time: text, PNG/JPEG, WAV, MP4, bad files.

Writers create missing parent folders and return the path they wrote.
"""

from __future__ import annotations

import struct
import wave
import zlib
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
# Beyond twice PIL's Image.MAX_IMAGE_PIXELS (89,478,485): PIL refuses such an image on open.
BOMB_SIDE = 50_000


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_image(
    path: Path, seed: int = 0, size: tuple[int, int] = (40, 30), fmt: str | None = None
) -> Path:
    """A random RGB image in ``fmt`` ("PNG", "JPEG"; default: from the extension)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def write_wav(
    path: Path, seconds: float = 0.5, freq: float = 440.0, amplitude: float = 0.3
) -> Path:
    """A 16 kHz mono 16-bit sine wave (amplitude 0: silence)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return path


def write_video(path: Path, frames: int = 6, audio: bool = True, seed: int = 0) -> Path:
    """A 32x32 MPEG-4 clip at 8 fps, with a 0.5 s AAC tone unless ``audio`` is False."""
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=8)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        sound = container.add_stream("aac", rate=SAMPLE_RATE) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for _ in range(frames):
            image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode())
        if sound is not None:
            t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def write_bomb_png(path: Path, side: int = BOMB_SIDE) -> Path:
    """A tiny PNG whose header claims side x side pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )
    return path


def write_sliver_jpeg(path: Path, size: tuple[int, int] = (60_000, 3)) -> Path:
    """A grey JPEG of a few kB and few pixels whose sides differ thousands of times: the shape
    that encoders, scaling its shorter side up, blew up to gigabytes."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (128, 128, 128)).save(path, format="JPEG")
    return path


def write_bomb_docx(path: Path, unpacked: int = 20 * 2**20) -> Path:
    """A valid DOCX carrying one member of ``unpacked`` zero bytes, packed about 1000 times
    (20 MiB in 20 kB): a zip bomb in small."""
    import zipfile

    import docx

    path.parent.mkdir(parents=True, exist_ok=True)
    document = docx.Document()
    document.add_paragraph("A short CV")
    document.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/zeros.bin", bytes(unpacked))
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cuts a file to ``fraction`` of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_folder(root: Path, n: int) -> Path:
    """``n`` good items of rotating kinds (text, PNG, WAV): a small corpus for engine tests."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        stem = root / f"item{i:03d}"
        if i % 3 == 0:
            write_text(stem.with_suffix(".txt"), f"post number {i}: " + "word " * (i % 7))
        elif i % 3 == 1:
            write_image(stem.with_suffix(".png"), seed=i)
        else:
            write_wav(stem.with_suffix(".wav"), seconds=0.2, freq=200 + 20 * i)
    return root
