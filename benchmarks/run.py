"""Runs every benchmark in turn, each in its own process, and prints what each prints.

    python -m benchmarks.run [NAME ...]      # e.g. social_throughput cache

Benchmarks that need the development data (``../shared/data``) say so and exit 0 without it.
The numbers in BENCHMARKS.md come from this command on the project's 2-core CI machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCHMARKS = (
    "social_throughput",
    "text_throughput",
    "cache",
    "video_memory",
    "screening_throughput",
    "wildlife_throughput",
    "report",
)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    root = Path(__file__).resolve().parents[1]
    failed = 0
    for name in names:
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=root)
        print(f"== {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
