"""Audio decoding with PyAV (FFmpeg bundled, no system ffmpeg): audio files and video soundtracks.

``load_audio`` returns float32 mono samples in [-1, 1] at the requested rate, decoded and resampled
frame by frame into one preallocated buffer, so the peak memory is about the size of the result.
Every way a file can be bad (missing, empty, not media, no audio track, corrupt or truncated)
raises ``InputError`` with one line; files are opened read-only.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError

# Whisper's input rate (openai/whisper audio.py SAMPLE_RATE); every speech model here uses it.
SAMPLE_RATE = 16000
# A file is called truncated when it decodes to less than this share of the duration its header
# declares (and at least TRUNCATION_MIN_SECONDS less): headers of intact files agree to a frame.
TRUNCATION_RATIO = 0.9
TRUNCATION_MIN_SECONDS = 0.5
# Bytes read from the start of a WAV file to find its declared data size (RIFF header chunks).
WAV_HEADER_BYTES = 1 << 16
# Data sizes a WAV writer leaves when it streams and cannot seek back to fill in the header.
WAV_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def _error_text(error: Exception) -> str:
    """FFmpeg's message without the file name PyAV appends."""
    return getattr(error, "strerror", None) or str(error)


def _open(path: Path):
    """Opens a media container read-only, or raises InputError saying why it cannot be read."""
    import av

    if not path.is_file():
        raise InputError("no such file")
    if path.stat().st_size == 0:
        raise InputError("empty file")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as error:
        raise InputError(f"not a readable audio or video file ({_error_text(error)})") from error
    except OSError as error:
        raise InputError(f"cannot read file ({error.strerror or error})") from error


def _audio_stream(container):
    """The first audio stream, or InputError (a video without sound says so)."""
    if not container.streams.audio:
        if container.streams.video:
            raise InputError("video has no audio track")
        raise InputError("no audio stream in file")
    return container.streams.audio[0]


def _wav_declared_seconds(path: Path) -> float | None:
    """Duration a WAV header declares (data size / byte rate); None when it declares none.

    FFmpeg sizes a WAV stream from the file length, so a cut-off copy decodes cleanly; the
    RIFF header still holds the size the writer meant.
    """
    with open(path, "rb") as f:
        header = f.read(WAV_HEADER_BYTES)
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return None
    byte_rate, data_size, offset = None, None, 12
    while offset + 8 <= len(header) and data_size is None:
        chunk_id, size = struct.unpack_from("<4sI", header, offset)
        if chunk_id == b"fmt " and offset + 20 <= len(header):
            (byte_rate,) = struct.unpack_from("<I", header, offset + 16)
        elif chunk_id == b"data":
            data_size = size
        offset += 8 + size + (size & 1)
    if not byte_rate or data_size is None or data_size in WAV_UNKNOWN_SIZES:
        return None
    return data_size / byte_rate


def _declared_seconds(path: Path, container, stream) -> float | None:
    """Duration the file's headers declare for the stream, when they declare one."""
    if container.format.name == "wav":
        return _wav_declared_seconds(path)
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


class _Samples:
    """A growable float32 buffer: preallocated from the declared length, doubled if it is short."""

    def __init__(self, capacity: int):
        self.data = np.empty(max(capacity, 1), dtype=np.float32)
        self.size = 0

    def append(self, samples: np.ndarray) -> None:
        end = self.size + len(samples)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), dtype=np.float32)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = samples
        self.size = end

    def result(self) -> np.ndarray:
        """The samples, trimmed (a copy only when the preallocation was too large)."""
        return self.data if self.size == len(self.data) else self.data[: self.size].copy()


def _named(read):
    """Puts the file's name before a reader's error: ``voice.wav: empty file``."""

    @functools.wraps(read)
    def wrapper(path, *args, **kwargs):
        try:
            return read(path, *args, **kwargs)
        except InputError as error:
            raise InputError(f"{Path(path).name}: {error}") from None

    return wrapper


@_named
def load_audio(
    path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None
) -> np.ndarray:
    """Decodes the first audio track of an audio or video file to mono at ``sample_rate``.

    Args:
        path: an audio file (wav, flac, mp3, ...) or a video file with a soundtrack.
        sample_rate: output rate in Hz.
        max_seconds: decode at most this much from the start (None: all of it).

    Returns:
        float32 [n_samples] mono samples in [-1, 1].

    Raises:
        InputError: missing, empty, unreadable, no audio track, corrupt or truncated.
    """
    import av

    path = Path(path)
    with _open(path) as container:
        stream = _audio_stream(container)
        declared = _declared_seconds(path, container, stream)
        if declared and max_seconds:
            declared = min(declared, max_seconds)
        limit = int(max_seconds * sample_rate) if max_seconds else None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        samples = _Samples(int((declared or 0.0) * sample_rate) + sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples.append(out.to_ndarray()[0])  # packed mono "flt": [1, n]
                if limit is not None and samples.size >= limit:
                    break
            else:
                for out in resampler.resample(None):  # flushes the resampler's delay line
                    samples.append(out.to_ndarray()[0])
        except (av.FFmpegError, ValueError) as error:
            decoded = samples.size / sample_rate
            raise InputError(
                f"corrupt or truncated audio after {decoded:.2f} s ({_error_text(error)})"
            ) from error
    if samples.size == 0:
        raise InputError("no audio samples decoded (empty or corrupt audio track)")
    decoded = samples.size / sample_rate
    if (
        declared
        and decoded < declared * TRUNCATION_RATIO
        and (declared - decoded >= TRUNCATION_MIN_SECONDS)
    ):
        raise InputError(
            f"truncated file: {decoded:.2f} s of audio, its header declares {declared:.2f} s"
        )
    audio = samples.result()[:limit]
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio


@_named
def audio_duration(path: str | Path) -> float:
    """Duration in seconds of the first audio track, from the headers when they give it.

    Falls back to decoding (without resampling) when the headers are silent.

    Raises:
        InputError: missing, empty, unreadable, no audio track, corrupt.
    """
    import av

    path = Path(path)
    with _open(path) as container:
        stream = _audio_stream(container)
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        try:
            n_samples = sum(frame.samples for frame in container.decode(stream))
        except av.FFmpegError as error:
            raise InputError(f"corrupt or truncated audio ({_error_text(error)})") from error
    if not n_samples or not stream.sample_rate:
        raise InputError("no audio samples decoded (empty or corrupt audio track)")
    return n_samples / stream.sample_rate
