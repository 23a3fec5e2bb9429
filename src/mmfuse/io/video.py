"""Video decoding: probe a file, then stream sampled frames with exact timestamps.

Frames come from OpenCV's FFmpeg backend (``cv2.VideoCapture``), one at a time, so memory does not
grow with the video's length. Frames that are skipped are never converted to images: a short gap
is crossed with ``grab()`` (decode only, no colour conversion), a long one with a seek when the
measured cost of seeking is below that of grabbing through the gap. Every sampled frame's time is
read from the frame actually decoded (its presentation timestamp, or index / fps where the
container has none), so a seek that lands elsewhere than asked gives a right timestamp anyway.

Where keyframes are at most a sampling interval apart (phone videos: about one a second) and no
scene detection is asked for, frames are decoded with PyAV from the keyframe before each sample
instead (``mmfuse.io.video_keyframes``): the same frames and times, a fraction of the decoding.

Scene-change sampling (optional) compares small HSV thumbnails of every k-th frame, the measure of
PySceneDetect's ContentDetector: the mean absolute difference of the H, S and V channels.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mmfuse.errors import InputError

logger = logging.getLogger(__name__)

# A frame rate above this is a time base misread as a rate (90000 Hz MPEG-TS clocks, 1000 Hz
# Matroska ticks); such metadata is ignored and the frames' timestamps are used instead.
MAX_PLAUSIBLE_FPS = 480.0
# OpenCV reports nonsense counts (0, negative, ~1e14) for raw streams; above this it is unknown.
MAX_PLAUSIBLE_FRAMES = 2**31
# Longer side, in pixels, of the thumbnails that scene detection compares.
SCENE_THUMBNAIL_SIDE = 64
# Scene detection looks at every k-th frame, k chosen so that checks are at most this far apart:
# 80 ms gives k = 2 at 25-30 fps, so a cut is found at most one frame late.
SCENE_CHECK_INTERVAL_S = 0.08
# Shortest time between two scene-change samples (PySceneDetect's default min_scene_len is 15
# frames, 0.6 s at 25 fps); stops flashes and fast pans from yielding a burst of frames.
SCENE_MIN_GAP_S = 0.5
# OpenCV's seek starts decoding 16 frames before its target (cap_ffmpeg_impl.hpp, ``delta``),
# so a gap shorter than this is always cheaper to grab through.
SEEK_MIN_GAP_FRAMES = 16


@dataclass(frozen=True)
class VideoInfo:
    """What a video container says about itself.

    Attributes:
        fps: frames per second, or None when the metadata gives no plausible rate.
        n_frames: frame count as the container reports it (estimated from the duration by some
            formats), or None when unknown (raw streams).
        duration: seconds, or None when unknown.
        width: frame width in pixels.
        height: frame height in pixels.
        has_audio: whether the container holds an audio stream.
    """

    fps: float | None
    n_frames: int | None
    duration: float | None
    width: int
    height: int
    has_audio: bool


@dataclass(frozen=True, eq=False)
class Frame:
    """One sampled frame.

    Attributes:
        time: presentation time in seconds from the start of the video stream.
        index: frame number (OpenCV's ``CAP_PROP_POS_FRAMES`` of this frame).
        image: RGB uint8 [height, width, 3], downscaled to the sampler's ``max_side``.
    """

    time: float
    index: int
    image: np.ndarray


def _open_capture(path: Path) -> cv2.VideoCapture:
    """An opened FFmpeg capture of ``path``; InputError when it is missing or not a video."""
    if not path.is_file():
        raise InputError(f"{path.name}: no such video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: empty file")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"{path.name}: not a readable video (no decodable video stream)")
    return capture


def _plausible_fps(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or not 0 < value <= MAX_PLAUSIBLE_FPS:
        return None
    return float(value)


def _frame_count(capture: cv2.VideoCapture) -> int | None:
    count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    if not math.isfinite(count) or not 0 < count < MAX_PLAUSIBLE_FRAMES:
        return None
    return int(count)


def _container_facts(path: Path) -> tuple[bool, float | None, float | None]:
    """(has an audio stream, the video stream's average rate, container duration in seconds).

    Read with PyAV, which sees the audio streams OpenCV ignores; a container PyAV cannot parse
    counts as having no audio (OpenCV already decided that it is a video).
    """
    import av

    try:
        with av.open(str(path)) as container:
            has_audio = any(s.type == "audio" for s in container.streams)
            videos = container.streams.video
            rate = videos[0].average_rate if videos else None
            duration = container.duration / av.time_base if container.duration else None
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return False, None, None
    return has_audio, float(rate) if rate else None, duration


def probe_video(path: str | Path) -> VideoInfo:
    """Reads a video's metadata and checks that its first frame decodes.

    Args:
        path: the video file (opened read-only).

    Returns:
        The container's frame rate, frame count, duration, frame size and whether it has audio.

    Raises:
        InputError: the file is missing, empty, not a video, or has no decodable frame.
    """
    path = Path(path)
    capture = _open_capture(path)
    try:
        fps = _plausible_fps(capture.get(cv2.CAP_PROP_FPS))
        n_frames = _frame_count(capture)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width <= 0 or height <= 0 or not capture.grab():
            raise InputError(f"{path.name}: video has no decodable frames")
    finally:
        capture.release()
    has_audio, av_rate, av_duration = _container_facts(path)
    fps = fps or _plausible_fps(av_rate)
    duration = n_frames / fps if n_frames and fps else av_duration
    return VideoInfo(fps, n_frames, duration, width, height, has_audio)


def _fit(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Downscales (area-averaged, aspect kept) so the longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    if max_side is None or max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class _SceneDetector:
    """Finds cuts: the mean absolute HSV difference of consecutive thumbnails above a threshold.

    The measure is PySceneDetect's ContentDetector ``content_val`` (0-255 scale), on thumbnails
    whose longer side is ``SCENE_THUMBNAIL_SIDE``; cuts closer than ``SCENE_MIN_GAP_S`` to the
    previous one are ignored.
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.previous: np.ndarray | None = None  # int16 [h, w, 3] HSV thumbnail
        self.last_cut = -math.inf

    def is_cut(self, bgr: np.ndarray, time_s: float) -> bool:
        """Whether ``bgr`` (the next checked frame, at ``time_s``) starts a new scene."""
        thumbnail = cv2.cvtColor(_fit(bgr, SCENE_THUMBNAIL_SIDE), cv2.COLOR_BGR2HSV)
        thumbnail = thumbnail.astype(np.int16)
        previous, self.previous = self.previous, thumbnail
        if previous is None or previous.shape != thumbnail.shape:
            return False
        change = float(np.abs(thumbnail - previous).mean())
        if change <= self.threshold or time_s - self.last_cut < SCENE_MIN_GAP_S:
            return False
        self.last_cut = time_s
        return True


class _Clock:
    """Times of grabbed frames: presentation timestamps while these increase, else index / fps.

    OpenCV reports a frame's timestamp as ``CAP_PROP_POS_MSEC`` after ``grab()``; it is 0 when the
    container has none, and some containers lose them part-way (MPEG-PS tails). From the first
    frame whose timestamp does not increase, index / fps is used for the rest of the stream.
    """

    def __init__(self, fps: float | None, name: str):
        self.fps = fps
        self.name = name
        self.use_pts = True
        self.last = -math.inf

    def time(self, capture: cv2.VideoCapture, index: int) -> float:
        """Seconds of the frame just grabbed, whose frame number is ``index``."""
        stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if self.use_pts and not (index == 0 or stamp > self.last):
            logger.debug("%s: timestamps unusable from frame %d", self.name, index)
            self.use_pts = False
        if not self.use_pts and self.fps is None:
            raise InputError(f"{self.name}: video has neither a frame rate nor timestamps")
        self.last = stamp if self.use_pts else index / self.fps
        return self.last

    def after_seek(self) -> None:
        """Accepts any next timestamp: a seek may land behind the frame timed last.

        Missing timestamps show on the second frame, before any seek, so none is hidden.
        """
        self.last = -math.inf


@dataclass
class SamplerStats:
    """How the frames of one pass were reached (tests and benchmarks read it).

    Attributes:
        grabbed: frames decoded by ``grab()`` (after a seek or not).
        retrieved: frames converted to images (the samples, plus the scene checks).
        seeks: seeks made.
        reopened: times the file was reopened because a seek landed past its target.
        run_grabs: grabs timed in ``run_grab_seconds``: those in a sequential run (not the
            first after opening or seeking, which start the decoder).
        run_grab_seconds: wall time of those grabs.
        seek_seconds: wall time of the seeks, each with its first grab.
    """

    grabbed: int = 0
    retrieved: int = 0
    seeks: int = 0
    reopened: int = 0
    run_grabs: int = 0
    run_grab_seconds: float = 0.0
    seek_seconds: float = 0.0


class _Reader:
    """An open capture and the frame last grabbed from it (``index``, ``time``); moves forward.

    ``advance(target)`` grabs the next frame, or seeks straight to the frame nearest ``target``
    seconds when that is measured to be cheaper than grabbing through the gap.
    """

    def __init__(self, path: Path, stats: SamplerStats, seekable: bool):
        self.path = path
        self.stats = stats
        self.capture = _open_capture(path)
        self.fps = _plausible_fps(self.capture.get(cv2.CAP_PROP_FPS))
        if self.fps is None:
            self.fps = _plausible_fps(_container_facts(path)[1])
        self.clock = _Clock(self.fps, path.name)
        # OpenCV seeks only where it knows the frame rate and the frame count.
        self.seekable = seekable and self.fps is not None and (_frame_count(self.capture) or 0) > 1
        self.index, self.time = -1, -math.inf
        self._in_run = False

    def close(self) -> None:
        self.capture.release()

    def advance(self, target: float) -> bool:
        """Moves on by one frame, or by a seek toward ``target`` seconds; False at the end."""
        if self.seekable:
            seek_to = round(target * self.fps)
            if self._worth_seeking(seek_to - self.index - 1):
                return self._seek(seek_to, target)
        return self._grab()

    def retrieve(self) -> np.ndarray | None:
        """The frame last grabbed as BGR uint8 [h, w, 3], or None when it fails to convert."""
        ok, bgr = self.capture.retrieve()
        if not ok:
            return None
        self.stats.retrieved += 1
        return bgr

    def _worth_seeking(self, gap: int) -> bool:
        """Whether seeking over ``gap`` frames is likely cheaper than grabbing through them.

        A seek's cost depends on the distance back to a keyframe and on refilling the decoder's
        threads, so both costs are measured: frames are grabbed until ``SEEK_MIN_GAP_FRAMES``
        grabs have been timed, the next long gap is sought (timing the seek), and from then on
        the cheaper way is taken by the mean costs so far.
        """
        stats = self.stats
        if gap < SEEK_MIN_GAP_FRAMES or stats.run_grabs < SEEK_MIN_GAP_FRAMES:
            return False
        if stats.seeks == 0:
            return True
        return gap * stats.run_grab_seconds / stats.run_grabs > stats.seek_seconds / stats.seeks

    def _grab(self) -> bool:
        started = time.perf_counter()
        if not self.capture.grab():
            return False
        if self._in_run:
            self.stats.run_grabs += 1
            self.stats.run_grab_seconds += time.perf_counter() - started
        self._grabbed()
        return True

    def _grabbed(self) -> None:
        """Counts the frame just grabbed and reads its number and time."""
        self.stats.grabbed += 1
        self._in_run = True
        self.index = round(self.capture.get(cv2.CAP_PROP_POS_FRAMES)) - 1
        self.time = self.clock.time(self.capture, self.index)

    def _seek(self, seek_to: int, target: float) -> bool:
        """Seeks to frame ``seek_to`` and grabs it; checks that it is the frame nearest ``target``.

        OpenCV seeks by timestamp, then steps by frame count to the frame number asked for; where
        the frame rate varies, the steps overshoot. A frame past ``target`` means frames that
        may be samples were jumped: the file is reopened and read forward to where the seek
        started, and nothing is sought any more.
        """
        index = self.index
        started = time.perf_counter()
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, seek_to)
        if not self.capture.grab():
            return False
        self.stats.seeks += 1
        self.stats.seek_seconds += time.perf_counter() - started
        self.clock.after_seek()
        self._grabbed()
        if self.time <= target + 0.5 / self.fps:
            return True
        logger.debug("%s: seek to %.3f s landed at %.3f s", self.path.name, target, self.time)
        self.seekable = False
        self.stats.reopened += 1
        self.capture.release()
        self.capture = _open_capture(self.path)
        self._in_run = False
        for _ in range(index + 1):
            if not self._grab():
                return False
        return self._grab()


class FrameSampler:
    """Streams frames every ``every_s`` seconds, and optionally at scene changes.

    Iterating opens the file, yields ``Frame`` objects one at a time and closes it; nothing is
    kept between frames but the previous scene thumbnail. ``stats`` tells how the frames of the
    last pass were reached. Arguments as for ``sample_frames``.
    """

    def __init__(
        self,
        path: str | Path,
        every_s: float = 2.0,
        scene_threshold: float | None = None,
        max_frames: int | None = None,
        max_side: int | None = 512,
    ):
        if not every_s > 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        if scene_threshold is not None and not scene_threshold > 0:
            raise ValueError(f"scene_threshold must be positive, got {scene_threshold}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        if max_side is not None and max_side < 1:
            raise ValueError(f"max_side must be at least 1, got {max_side}")
        self.path = Path(path)
        self.every_s = float(every_s)
        self.scene_threshold = scene_threshold
        self.max_frames = max_frames
        self.max_side = max_side
        self.stats = SamplerStats()

    def __iter__(self) -> Iterator[Frame]:
        self.stats = SamplerStats()
        frames = self._stream()
        try:
            yielded = 0
            for frame in frames:
                yielded += 1
                yield frame
                if self.max_frames is not None and yielded >= self.max_frames:
                    return
            if yielded == 0:
                raise InputError(f"{self.path.name}: video has no decodable frames")
        finally:
            frames.close()

    def _stream(self) -> Iterator[Frame]:
        """The sampling loop: per frame, decide whether to skip it, check it or yield it."""
        if self.scene_threshold is None and self.path.is_file():
            from mmfuse.io.video_keyframes import packet_index, sample_by_keyframes

            index = packet_index(self.path)
            if index is not None and index.keyframe_gap() <= self.every_s + 1e-9:
                for time_s, number, bgr in sample_by_keyframes(
                    self.path, index, self.every_s, self.stats
                ):
                    rgb = cv2.cvtColor(_fit(bgr, self.max_side), cv2.COLOR_BGR2RGB)
                    yield Frame(time_s, number, rgb)
                return
        scenes = None if self.scene_threshold is None else _SceneDetector(self.scene_threshold)
        reader = _Reader(self.path, self.stats, seekable=scenes is None)
        try:
            fps = reader.fps
            half_frame = 0.5 / fps if fps else 0.0
            scene_step = max(1, int(fps * SCENE_CHECK_INTERVAL_S)) if fps else 1
            target = 0.0
            while reader.advance(target):
                is_target = reader.time >= target - half_frame
                is_check = scenes is not None and reader.index % scene_step == 0
                if not (is_target or is_check):
                    continue  # grabbed only: never converted to an image
                bgr = reader.retrieve()
                if bgr is None:
                    return
                is_cut = is_check and scenes.is_cut(bgr, reader.time)
                if is_target or is_cut:
                    rgb = cv2.cvtColor(_fit(bgr, self.max_side), cv2.COLOR_BGR2RGB)
                    yield Frame(reader.time, reader.index, rgb)
                    after = math.floor((reader.time + half_frame) / self.every_s) + 1
                    target = after * self.every_s
        finally:
            reader.close()


def sample_frames(
    path: str | Path,
    every_s: float = 2.0,
    scene_threshold: float | None = None,
    max_frames: int | None = None,
    max_side: int | None = 512,
) -> Iterator[Frame]:
    """Streams frames sampled every ``every_s`` seconds (and at scene changes), one at a time.

    Args:
        path: the video file (opened read-only).
        every_s: seconds between periodic samples; the frame nearest each multiple of
            ``every_s`` is taken, the first at 0 s.
        scene_threshold: when given, also sample the first frame of each new scene: the mean
            absolute difference of HSV thumbnails of consecutive checked frames, on a 0-255
            scale, must exceed it (PySceneDetect's ContentDetector default is 27). Every k-th
            frame is then decoded to an image (checks at most 80 ms apart) and nothing is sought.
        max_frames: stop after this many frames.
        max_side: downscale each frame so its longer side is at most this (None: full size).

    Yields:
        ``Frame(time, index, image)``, in time order; image is RGB uint8 [h, w, 3].

    Raises:
        InputError: the file is missing, empty, not a video, or has no decodable frame. A file
            that stops decoding part-way (truncated, corrupt) yields its frames up to there.
    """
    yield from FrameSampler(path, every_s, scene_threshold, max_frames, max_side)
