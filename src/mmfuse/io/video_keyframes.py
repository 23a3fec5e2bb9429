"""Periodic sampling by keyframes: decode only from the keyframe before each sample.

OpenCV's seek starts decoding 16 frames before its target and reaches a keyframe before that
(``cap_ffmpeg_impl.hpp``), so a video with a keyframe every second, sampled every second, is
decoded whole. Here the packets are first read without decoding (PyAV) to learn each frame's
timestamp and which frames are keyframes; then, for each sample, the decoder seeks to the last
keyframe at or before it when that keyframe lies ahead of the frame decoded last, and decodes
forward otherwise. Phone cameras write a keyframe about every second, so sampling them once a
second decodes a frame or a few per sample instead of thirty (BENCHMARKS.md, video).

The frames are those a full decode gives, converted as OpenCV converts them (FFmpeg's
swscale, YUV to BGR, then RGB), with OpenCV's timestamps (from the stream's start).
``FrameSampler`` uses this path only without scene detection and where keyframes are at most
``every_s`` apart; it falls back to OpenCV when the packets lack timestamps.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
# Decoding every keyframe in one pass beats seeking up to this many keyframes a sample.
KEYFRAMES_PER_SAMPLE = 2


@dataclass(frozen=True)
class PacketIndex:
    """The video stream's frames in presentation order, learned without decoding.

    Attributes:
        pts: sorted presentation timestamps of every frame, in ``time_base`` units.
        keyframes: sorted presentation timestamps of the keyframes.
        time_base: seconds per timestamp unit.
        start: the stream's start timestamp (frame times count from it, as OpenCV's do).
    """

    pts: list[int]
    keyframes: list[int]
    time_base: Fraction
    start: int

    def seconds(self, pts: int) -> float:
        return float((pts - self.start) * self.time_base)

    def keyframe_gap(self) -> float:
        """The median time between keyframes in seconds (inf with a single keyframe)."""
        if len(self.keyframes) < 2:
            return math.inf
        gaps = np.diff(self.keyframes) * float(self.time_base)
        return float(np.median(gaps))


def packet_index(path: Path) -> PacketIndex | None:
    """Reads the packets of the first video stream; None for a raw stream (no duration), when a
    packet has no timestamp, timestamps repeat, there is no keyframe, or PyAV cannot read it."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if container.duration is None:
                return None  # a raw stream: no index to seek by, as OpenCV judges it too
            pts, keyframes = [], []
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
            time_base = stream.time_base
            start = stream.start_time if stream.start_time is not None else 0
    except (av.FFmpegError, OSError, IndexError, UnicodeDecodeError):
        return None
    pts.sort()
    if not keyframes or time_base is None or len(set(pts)) != len(pts):
        return None
    return PacketIndex(pts, sorted(keyframes), Fraction(time_base), start)


def sampled_frames(index: PacketIndex, every_s: float) -> list[int]:
    """Presentation timestamps of the sampled frames: for each multiple of ``every_s`` seconds,
    the first frame at or after it less half a frame; the next multiple after that frame."""
    half_frame = _half_frame(index)
    wanted, target = [], 0.0
    while True:
        first = index.start + math.ceil((target - half_frame) / index.time_base)
        number = bisect.bisect_left(index.pts, first)
        if number == len(index.pts):
            return wanted
        wanted.append(index.pts[number])
        time = index.seconds(index.pts[number])
        target = (math.floor((time + half_frame) / every_s) + 1) * every_s


def _half_frame(index: PacketIndex) -> float:
    """Half the mean frame interval in seconds (0 for a single frame)."""
    if len(index.pts) < 2 or index.seconds(index.pts[-1]) <= 0:
        return 0.0
    return 0.5 * index.seconds(index.pts[-1]) / (len(index.pts) - 1)


def sample_by_keyframes(path: Path, index: PacketIndex, every_s: float, stats) -> Iterator:
    """Yields (time, frame number, BGR uint8 [h, w, 3]) of the frame nearest each multiple of
    ``every_s`` seconds; ``stats`` (a ``SamplerStats``) counts decoded frames and seeks.

    When every sampled frame is a keyframe (a keyframe every ``every_s`` seconds, as encoders
    set with a GOP of one sampling interval write) and there are at most
    ``KEYFRAMES_PER_SAMPLE`` keyframes a sample, one pass decodes the keyframes only (the
    decoder skips the other frames' data): no seeks, no frames decoded to be thrown away.
    All-keyframe video (Motion JPEG) sampled sparsely seeks instead.
    """
    wanted = sampled_frames(index, every_s)
    few = len(index.keyframes) <= KEYFRAMES_PER_SAMPLE * len(wanted)  # else seek past them
    if wanted and few and set(wanted) <= set(index.keyframes):
        yield from _keyframes_only(path, index, wanted, stats)
        return
    yield from _seek_and_decode(path, index, every_s, stats)


def _keyframes_only(path: Path, index: PacketIndex, wanted: list[int], stats) -> Iterator:
    import av

    remaining = set(wanted)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        # frame threads pass every skipped frame through their pipeline: slices only (0.40 s
        # against 0.75 s for a minute of 720p with a keyframe a second)
        stream.thread_type = "SLICE"
        stream.codec_context.skip_frame = "NONKEY"
        try:
            for frame in container.decode(stream):
                stats.grabbed += 1
                if frame.pts not in remaining:
                    continue
                remaining.discard(frame.pts)
                stats.retrieved += 1
                number = bisect.bisect_left(index.pts, frame.pts)
                yield index.seconds(frame.pts), number, frame.to_ndarray(format="bgr24")
                if not remaining:
                    return
        except av.FFmpegError as error:  # damaged data part-way: stop at what decoded
            logger.debug("%s: decoding stopped: %s", path.name, error)


def _seek_and_decode(path: Path, index: PacketIndex, every_s: float, stats) -> Iterator:
    import av

    half_frame = _half_frame(index)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames: Iterator | None = None
        decoded_pts: int | None = None  # presentation timestamp of the frame decoded last
        target = 0.0
        while True:
            # The first frame at or after the sample time, less half a frame.
            first = index.start + math.ceil((target - half_frame) / index.time_base)
            number = bisect.bisect_left(index.pts, first)
            if number == len(index.pts):
                return
            wanted = index.pts[number]
            keyframe = index.keyframes[max(0, bisect.bisect_right(index.keyframes, wanted) - 1)]
            if frames is None or decoded_pts is None or decoded_pts < keyframe:
                if frames is not None:
                    stats.seeks += 1
                container.seek(keyframe, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
            frame = None
            try:
                for frame in frames:
                    stats.grabbed += 1
                    decoded_pts = frame.pts
                    if frame.pts is not None and frame.pts >= wanted:
                        break
                else:
                    frame = None
            except av.FFmpegError as error:  # damaged data part-way: stop at what decoded
                logger.debug("%s: decoding stopped: %s", path.name, error)
                return
            if frame is None or frame.pts is None:
                return
            stats.retrieved += 1
            time = index.seconds(frame.pts)
            yield time, bisect.bisect_left(index.pts, frame.pts), frame.to_ndarray(format="bgr24")
            target = (math.floor((time + half_frame) / every_s) + 1) * every_s
