"""Peak memory and speed of video sampling and encoding versus video length.

Writes synthetic clips of 1, 5 and 10 minutes (320x180 at 10 fps, a new scene every 30 s) into
a temporary folder, then streams each through ``sample_frames`` and, when the default image
encoder is installed, through ``VideoEncoder``. For each it prints the throughput and the
process's peak RSS during the run (``VmHWM``, reset through ``/proc/self/clear_refs``), also as
growth above the resident size after a warm-up run of the same kind. Memory that does not grow
with the clip's length is what the table should show.

Run from the repository root: ``python -m benchmarks.bench_video_memory`` (about 1-2 minutes on
two CPU cores).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from mmfuse.encoders.video import VideoEncoder
from mmfuse.io.video import sample_frames

CLIP_SIZE = (320, 180)  # width, height
CLIP_FPS = 10.0
SCENE_SECONDS = 30  # a hard cut every 30 s, so scene sampling has something to find
SCENE_THRESHOLD = 27.0  # PySceneDetect's ContentDetector default
IMAGE_MODEL = "timm:tf_efficientnet_lite0"
# The image model's CPU time per frame dominates the encoder runs; sampling every 3 s keeps them
# short on two cores and gives even the 1-minute clip full batches of 16 frames.
ENCODER_EVERY_S = 3.0


def _scene_strip(scene: int) -> np.ndarray:
    """BGR uint8 [height, 2 * width, 3]: a brightness ramp, twice, in the scene's hue."""
    width, height = CLIP_SIZE
    ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), 2)
    hsv = np.empty((height, 2 * width, 3), np.uint8)
    hsv[..., 0], hsv[..., 1], hsv[..., 2] = (scene * 47) % 180, 200, ramp
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


def write_clip(path: Path, minutes: float) -> Path:
    """A clip with a scrolling ramp and a moving square; the hue changes every scene."""
    width, _ = CLIP_SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, CLIP_SIZE)
    strip = None
    for index in range(int(minutes * 60 * CLIP_FPS)):
        if index % int(SCENE_SECONDS * CLIP_FPS) == 0:
            strip = _scene_strip(index // int(SCENE_SECONDS * CLIP_FPS))
        offset = (index * 3) % width
        frame = strip[:, offset : offset + width].copy()
        x = (index * 5) % (width - 40)
        frame[60:100, x : x + 40] = 255
        writer.write(frame)
    writer.release()
    return path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def measure(run: Callable[[], int]) -> tuple[int, float, float]:
    """(the count ``run`` returned, wall seconds, peak RSS MB during the run)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
    started = time.perf_counter()
    count = run()
    seconds = time.perf_counter() - started
    return count, seconds, _status_mb("VmHWM")


def _image_encoder():
    """The default image encoder, or None (with the reason printed) when it cannot load."""
    from mmfuse.encoders.base import create_encoder
    from mmfuse.errors import ModelUnavailable

    try:
        return create_encoder(IMAGE_MODEL, device="cpu")
    except (ModelUnavailable, ImportError, KeyError) as error:
        print(f"VideoEncoder rows skipped: {IMAGE_MODEL} unavailable ({error})")
        return None


def _report(name: str, run: Callable[[Path], int], clips: dict[float, Path]) -> None:
    """Prints one row per clip: frames sampled, throughput, peak RSS and its growth."""
    # Warm-up: first-use costs (codec tables, model threads) are not per video; growth is then
    # the peak above the resident size after it.
    run(clips[min(clips)])
    gc.collect()
    baseline = _status_mb("VmRSS")
    for minutes, clip in clips.items():
        count, seconds, peak = measure(lambda clip=clip: run(clip))
        print(
            f"{name:<27} {minutes:>3g}m  {count:>6d}  {count / seconds:>8.1f}  "
            f"{minutes * 60 / seconds:>10.0f}  {peak:>11.0f}  {peak - baseline:>9.1f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--every-s", type=float, default=2.0, help="sampler: seconds between")
    parser.add_argument("--encoder-every-s", type=float, default=ENCODER_EVERY_S)
    args = parser.parse_args(argv)

    def periodic(path: Path) -> int:
        return sum(1 for _ in sample_frames(path, every_s=args.every_s))

    def with_scenes(path: Path) -> int:
        frames = sample_frames(path, every_s=args.every_s, scene_threshold=SCENE_THRESHOLD)
        return sum(1 for _ in frames)

    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-video-") as folder:
        started = time.perf_counter()
        clips = {m: write_clip(Path(folder) / f"{m:g}min.mp4", m) for m in args.minutes}
        print(
            f"wrote {len(clips)} clips ({CLIP_SIZE[0]}x{CLIP_SIZE[1]}, {CLIP_FPS:g} fps, mp4v) "
            f"in {time.perf_counter() - started:.1f} s; VideoEncoder runs {IMAGE_MODEL}"
        )
        columns = ("clip", "frames", "frames/s", "x realtime", "peak RSS MB", "growth MB")
        print(f"{'run':<27} " + "  ".join(columns))
        _report(f"sampler every {args.every_s:g} s", periodic, clips)
        _report(f"sampler + scenes > {SCENE_THRESHOLD:g}", with_scenes, clips)
        encoder = _image_encoder()  # loaded only now, so the sampler rows show the bare sampler
        if encoder is not None:
            video = VideoEncoder(encoder, every_s=args.encoder_every_s)
            name = f"VideoEncoder every {args.encoder_every_s:g} s"
            _report(name, lambda path: len(video.encode_file(path).times), clips)


if __name__ == "__main__":
    main()
