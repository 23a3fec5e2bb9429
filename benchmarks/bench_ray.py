"""Scale-out: the Ray engine with 1 and 2 model actors against the local engine, same folder.

``mmfuse run social-media`` on four copies of ``sample_data/social_media`` (32 posts: text,
photos, a voice note, a video with speech), each run a fresh process with ``--no-cache``:
the local engine, then ``--engine ray --workers 1`` and ``--workers 2`` (a local Ray instance
started for the run; every actor loads its own models). Ray's own start-up is timed apart
(``ray.init`` and ``ray.shutdown`` with nothing to run). Run from the repository root:
``python -m benchmarks.bench_ray [--copies 4] [--workers 1 2]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_end_to_end import ROOT, copies, run_cli
from benchmarks.common import load

TASK = "social-media"
STARTUP = (
    "import time, ray; t = time.perf_counter(); "
    "ray.init(num_cpus=None, include_dashboard=False, log_to_driver=False); "
    "u = time.perf_counter(); ray.shutdown(); "
    "print(f'{u - t:.2f} {time.perf_counter() - u:.2f}')"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    try:
        import ray  # noqa: F401
    except ImportError:
        print("skipped: ray is not installed")
        return 0
    print(f"load average {load()}")
    start = time.perf_counter()
    up, down = subprocess.run(
        [sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True
    ).stdout.split()[-2:]
    print(
        f"Ray start-up: ray.init {up} s, ray.shutdown {down} s "
        f"({time.perf_counter() - start:.1f} s with the interpreter and import)"
    )
    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-ray-") as tmp:
        folder = copies(ROOT / "sample_data" / "social_media", Path(tmp) / "posts", args.copies)
        n = 8 * args.copies
        runs = [("local engine", ())] + [
            (f"ray, {w} worker{'s' if w > 1 else ''}", ("--engine", "ray", "--workers", str(w)))
            for w in args.workers
        ]
        local = None
        for name, extra in runs:
            seconds, peak, code = run_cli(
                TASK, folder, Path(tmp) / f"out{len(extra)}{name[-9:]}", *extra
            )
            local = local or seconds
            print(
                f"{name:16} {n} posts  {seconds:6.1f} s  {n / seconds:5.2f} posts/s  "
                f"{local / seconds:4.2f}x the local engine  peak RSS (largest process) "
                f"{peak:5.0f} MB" + (f"  exit {code}" if code else "")
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
