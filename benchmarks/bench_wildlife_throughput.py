"""Wildlife pipeline throughput: camera-trap files per second, full per-file analysis.

On the camera-trap photos of ``../shared/data`` (the speciesnet test images, 1046-3264 px; the
Camtrap DP example's night-IR burst, 2048x1440; the squirrel burst, 640x640; the benchmark
says so and exits 0 when they are absent), in one process with two torch threads: the
``WildlifeTask`` through the local engine, models loaded beforehand, no results cache. Per
file: decoding (JPEG at reduced scale), the burst's thumbnails and motion boxes, the window
scan, up to three crops classified, species naming, the row. Rates move with the machine's
load (printed with the result); the CPU time per image is printed too, since on a shared
machine it says what two dedicated cores would do (2 / CPU seconds per image, an upper
bound that assumes both cores busy).

MegaDetector's published CPU rate is about 0.8 images/s per core, 1.6 on two; the target is
5 images/s. ``--crop-model`` compares classifiers (the default crop model is
EfficientNet-Lite2; ``timm:tf_efficientnet_lite0`` is about three times cheaper per crop).
Run from the repository root: ``python -m benchmarks.bench_wildlife_throughput``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from mmfuse import config
from mmfuse.engines.local import run_local
from mmfuse.engines.options import RunOptions
from mmfuse.tasks.wildlife.task import DEFAULT_CROP_MODEL, WildlifeOptions, WildlifeTask
from mmfuse.types import Item

SETS = (
    "images/speciesnet",
    "images/camtrapdp_example/media",
    "images/squirrel_sequence/data_example/images",
)
TARGET = 5.0  # images/s on 2 cores, the goal
MEGADETECTOR_PER_CORE = 0.8


def photos(root) -> list[Item]:
    items = []
    for name in SETS:
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg"):
                items.append(Item(f"{name}/{path.stem}", (path,)))
    return items


def rate(items: list[Item], crop_model: str, repeats: int) -> tuple[float, float, int]:
    """(images/s of wall time, CPU seconds per image, error rows)."""
    task = WildlifeTask(WildlifeOptions(image_model=crop_model), items)
    task.setup()
    options = RunOptions(batch_size=8, use_cache=False, progress="off", workers=2)
    list(run_local(task, items[:4], options))  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    failed = 0
    for _ in range(repeats):
        failed = sum(1 for row in run_local(task, items, options) if row["error"])
    n = repeats * len(items)
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--crop-model", action="append", default=None)
    args = parser.parse_args(argv)
    root = config.shared_data_dir()
    if not (root / SETS[0]).is_dir():
        print(f"development data not found at {root}; skipped")
        return 0
    torch.set_num_threads(args.threads)
    items = photos(root)
    print(f"{len(items)} photos; torch threads {args.threads}; load {os.getloadavg()[0]:.1f}")
    for model in args.crop_model or [DEFAULT_CROP_MODEL]:
        per_s, cpu_s, failed = rate(items, model, args.repeats)
        print(
            f"{model}: {per_s:.2f} images/s wall, {cpu_s:.3f} CPU s per image "
            f"(= {args.threads / cpu_s:.2f} images/s on {args.threads} dedicated cores), "
            f"{failed} error rows; target {TARGET}, "
            f"MegaDetector ~{MEGADETECTOR_PER_CORE * args.threads:.1f} on {args.threads} cores"
        )
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
