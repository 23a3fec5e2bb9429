"""Runs every benchmark in turn, each in its own process, and rewrites BENCHMARKS.md.

    python -m benchmarks.run             # all of them; rewrites BENCHMARKS.md
    python -m benchmarks.run NAME ...    # e.g. speech images; prints only

BENCHMARKS.md is the machine's description, ``benchmarks/FINDINGS.md`` (what the numbers mean:
targets, gaps, profiles, what was done; written by hand) and each benchmark's description and
printed output. Benchmarks that need the development data (``../shared/data``) say so and exit
0 without it.
"""

from __future__ import annotations

import datetime
import importlib
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import load, machine

BENCHMARKS = (
    "speech",
    "images",
    "video",
    "social_throughput",
    "end_to_end",
    "ray",
    "text_throughput",
    "cache",
    "video_memory",
    "screening_throughput",
    "wildlife_throughput",
    "report",
    "item_overhead",
)
ROOT = Path(__file__).resolve().parents[1]
FINDINGS = ROOT / "benchmarks" / "FINDINGS.md"
REPORT = ROOT / "BENCHMARKS.md"


def run_one(name: str) -> tuple[int, float, str]:
    """Exit code, seconds and printed output of ``benchmarks.bench_NAME`` (echoed as it runs)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.bench_{name}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    return process.wait(), time.perf_counter() - started, "".join(lines)


def describe(name: str) -> tuple[str, str]:
    """The benchmark's title and description: its module docstring."""
    doc = (importlib.import_module(f"benchmarks.bench_{name}").__doc__ or name).strip()
    title, _, body = doc.partition("\n")
    return title.rstrip("."), body.strip()


def report(results: list[tuple[str, int, float, str]], started: str, load_before: str) -> str:
    total = sum(seconds for _, _, seconds, _ in results)
    parts = [
        "# Benchmarks\n",
        f"Written by `make benchmark` (`python -m benchmarks.run`) on {started} UTC, "
        f"{total / 60:.1f} minutes in all, on: {machine()} at the end; {load_before} at the "
        "start. The machine is shared, so each comparison is timed against its alternative "
        "in the same run and judged on the ratio; absolute rates move from run to run.\n",
        FINDINGS.read_text(encoding="utf-8").strip() + "\n",
        "# What each benchmark printed\n",
    ]
    for name, code, seconds, output in results:
        title, body = describe(name)
        status = "not run" if code < 0 else f"exit {code}, {seconds:.0f} s"
        block = f"```\n{output.rstrip()}\n```"
        parts.append(f"## {title} (`bench_{name}`, {status})\n\n{body}\n\n{block}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    load_before = f"load average {load()}"
    print(f"{machine()}", flush=True)
    results = []
    for name in names:
        print(f"\n== {name}", flush=True)
        code, seconds, output = run_one(name)
        print(f"== {name}: exit {code} after {seconds:.0f} s", flush=True)
        results.append((name, code, seconds, output))
        if list(names) == list(BENCHMARKS):  # rewritten as each finishes: the rest say so
            pending = [(n, -1, 0.0, "not run yet") for n in names[len(results) :]]
            REPORT.write_text(report(results + pending, started, load_before), encoding="utf-8")
    return 1 if any(code for _, code, _, _ in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
