"""Audio decoding: resampling, video soundtracks, and one clear error for every kind of bad file."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import pytest

from mmfuse.errors import InputError
from mmfuse.io.audio import audio_duration, load_audio

TONE_HZ = 440.0


def tone(seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A 440 Hz sine: float64 [seconds * rate]."""
    t = np.arange(round(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * TONE_HZ * t)


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    """16-bit PCM WAV from float samples [n] (or [n, channels])."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def write_with_av(path: Path, samples: np.ndarray, rate: int, codec: str, video: bool = False):
    """Encodes mono float samples with PyAV (FLAC, or AAC under a short mpeg4 video track)."""
    import av

    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)[None, :]
    with av.open(str(path), "w") as container:
        pictures = container.add_stream("mpeg4", rate=10) if video else None
        sound = container.add_stream(codec, rate=rate, layout="mono")
        if pictures is not None:
            pictures.width, pictures.height = 64, 48
            for i in range(10):
                rgb = np.full((48, 64, 3), 20 * i, dtype=np.uint8)
                container.mux(pictures.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(pictures.encode(None))
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("codec", ["wav", "flac"])
def test_max_seconds_reads_the_start_only(tmp_path, codec):
    samples = tone(6.0, 44100)
    samples[44100 * 2 :] = 0.0  # two seconds of tone, then silence
    if codec == "wav":
        path = write_wav(tmp_path / "long.wav", samples, 44100)
    else:
        path = write_with_av(tmp_path / "long.flac", samples, 44100, "flac")
    audio = load_audio(path, 48000, max_seconds=2.5)
    assert len(audio) == 2.5 * 48000  # no truncation error: the rest was not asked for
    assert dominant_hz(audio[:48000], 48000) == pytest.approx(TONE_HZ, abs=1.0)


def test_resampling_44k_to_16k_keeps_duration_pitch_and_level(tmp_path):
    path = write_wav(tmp_path / "tone.wav", tone(2.5, 44100), 44100)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 2.5 * 16000) <= 16  # within a millisecond
    assert dominant_hz(audio, 16000) == pytest.approx(TONE_HZ, abs=1.0)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.02)
    assert audio_duration(path) == pytest.approx(2.5, abs=1e-3)


def test_other_rate_and_stereo_are_mixed_to_mono(tmp_path):
    stereo = np.stack([tone(1.0, 8000), tone(1.0, 8000)], axis=1)
    path = write_wav(tmp_path / "stereo.wav", stereo, 8000, channels=2)
    audio = load_audio(path, sample_rate=22050)
    assert audio.ndim == 1 and abs(len(audio) - 22050) <= 4
    assert dominant_hz(audio, 22050) == pytest.approx(TONE_HZ, abs=1.0)


def test_flac_decodes_and_the_file_is_left_untouched(tmp_path):
    path = write_with_av(tmp_path / "tone.flac", tone(1.0, 16000), 16000, "flac")
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    audio = load_audio(path)
    assert abs(len(audio) - 16000) <= 2
    assert np.abs(audio - tone(1.0, 16000)[: len(audio)]).max() < 1e-3  # lossless
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_soundtrack_of_a_video_is_decoded(tmp_path):
    path = write_with_av(tmp_path / "clip.mp4", tone(1.0, 16000), 16000, "aac", video=True)
    audio = load_audio(path)
    assert abs(len(audio) / 16000 - 1.0) < 0.1  # AAC adds a few priming frames
    assert dominant_hz(audio, 16000) == pytest.approx(TONE_HZ, abs=2.0)


def test_video_without_audio_track_is_an_input_error(tmp_path):
    import cv2

    path = tmp_path / "silent.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, dtype=np.uint8))
    writer.release()
    with pytest.raises(InputError, match="video has no audio track"):
        load_audio(path)
    with pytest.raises(InputError, match="video has no audio track"):
        audio_duration(path)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_truncated_file_is_an_input_error(tmp_path, suffix):
    source = tmp_path / f"whole{suffix}"
    if suffix == ".wav":
        write_wav(source, tone(3.0, 16000), 16000)
    else:
        write_with_av(source, tone(3.0, 16000), 16000, "flac")
    data = source.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as raised:
        load_audio(cut)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty file"), (b"this is not audio at all\n" * 40, "not a readable audio")],
)
def test_empty_or_garbage_file_is_an_input_error(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_audio(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path / "absent.wav")


@pytest.mark.integration
def test_shared_speech_files_decode_to_their_known_lengths(shared_data):
    jfk = load_audio(shared_data / "speech" / "jfk" / "jfk.flac")
    assert len(jfk) == 11 * 16000
    # LDC93S1.txt starts with the sample offsets of the utterance: "0 46797 ..."
    ldc = load_audio(shared_data / "speech" / "deepspeech" / "LDC93S1.wav")
    end = int((shared_data / "speech" / "deepspeech" / "LDC93S1.txt").read_text().split()[1])
    assert len(ldc) == end
