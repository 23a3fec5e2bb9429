"""End to end: every registered task on its sample folder and on a 10x larger copy of it.

For each task ``mmfuse run --help`` lists, ``mmfuse run TASK FOLDER --no-cache`` runs in a
fresh process (as a user runs it: interpreter start, model loading, writing the tables) on
``sample_data/<task>`` (``sample_data/social_media`` for ``encode``, which has none of its
own) and on a folder the benchmark makes with ten copies of each file. Printed: items/s, the
peak RSS of the process, and, for tasks with a sample folder of their own, the slowest stages of
the larger run from a profile (cProfile of
the same run in this process, models loaded first; the decode threads are timed apart, since
cProfile sees only the main thread). Run from the repository root: ``python -m
benchmarks.bench_end_to_end [TASK ...] [--copies 10]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import load

ROOT = Path(__file__).resolve().parents[1]
FALLBACK_SAMPLE = "social_media"
# Functions the profile reports as stages: the encoders, the fusion model, row building.
STAGE_PREFIXES = ("mmfuse/encoders/", "mmfuse/fusion/", "mmfuse/tasks/", "mmfuse/nlp/")
TOP_STAGES = 6


def sample_folder(task: str) -> Path:
    folder = ROOT / "sample_data" / task.replace("-", "_")
    return folder if folder.is_dir() else ROOT / "sample_data" / FALLBACK_SAMPLE


def copies(folder: Path, target: Path, n: int) -> Path:
    """``n`` copies of each top-level entry of ``folder``, names prefixed ``cK_``."""
    target.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(".") or entry.suffix == ".md":
                continue
            copy = shutil.copytree if entry.is_dir() else shutil.copy2
            copy(entry, target / f"c{k}_{entry.name}")
    return target


def run_cli(task: str, folder: Path, out: Path, *extra: str) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and exit code of ``mmfuse run TASK FOLDER`` in a new process."""
    command = [
        sys.executable,
        "-m",
        "mmfuse.cli",
        "-q",
        "run",
        task,
        str(folder),
        "-o",
        str(out),
        "--no-cache",
        "--overwrite",
        "--no-progress",
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def profile(task_name: str, folder: Path) -> tuple[float, list[tuple[str, float]], float]:
    """In-process run, models loaded first: seconds, top stage functions, decode seconds."""
    from mmfuse.engines.local import run_local
    from mmfuse.engines.options import RunOptions
    from mmfuse.io.discover import discover
    from mmfuse.tasks.registry import get_task

    items = discover(folder)
    task = get_task(task_name)(items=items)
    task.setup()
    decode_seconds = 0.0
    decode = task.decode

    def timed_decode(item):
        nonlocal decode_seconds
        start = time.perf_counter()
        try:
            return decode(item)
        finally:
            decode_seconds += time.perf_counter() - start

    task.decode = timed_decode
    options = RunOptions(use_cache=False, progress="off")
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    rows = list(run_local(task, items, options))
    profiler.disable()
    seconds = time.perf_counter() - start
    failed = sum(1 for row in rows if row["error"])
    if failed:
        print(f"warning: {failed} rows with errors in the profiled run")
    stats = pstats.Stats(profiler)
    stages = []
    for (file, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        if any(prefix in file.replace(os.sep, "/") for prefix in STAGE_PREFIXES):
            module = file.replace(os.sep, "/").split("mmfuse/", 1)[1].removesuffix(".py")
            stages.append((f"{module.replace('/', '.')}.{function}", cumulative))
    stages.sort(key=lambda s: -s[1])
    return seconds, stages[:TOP_STAGES], decode_seconds


def main(argv: list[str] | None = None) -> int:
    from mmfuse.io.discover import discover
    from mmfuse.tasks.registry import task_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="tasks (default: every registered one)")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    print(f"load average {load()}")
    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-e2e-") as tmp:
        for task in args.tasks or task_names():
            sample = sample_folder(task)
            big = copies(sample, Path(tmp) / f"{task}-x{args.copies}", args.copies)
            for name, folder in (("sample", sample), (f"{args.copies}x", big)):
                n = len(discover(folder))
                seconds, peak, code = run_cli(task, folder, Path(tmp) / f"out-{task}-{name}")
                print(
                    f"{task:13} {name:6} {n:4d} items  {seconds:6.1f} s  {n / seconds:6.2f} "
                    f"items/s  peak RSS {peak:5.0f} MB" + (f"  exit {code}" if code else "")
                )
            if args.no_profile or sample != ROOT / "sample_data" / task.replace("-", "_"):
                continue  # a task on another's sample folder: its encoders were profiled there
            seconds, stages, decode = profile(task, big)
            print(
                f"{task} {args.copies}x profile ({seconds:.1f} s in the engine, models loaded; "
                f"decode threads {decode:.1f} s of work):"
            )
            for function, cumulative in stages:
                print(f"    {cumulative:6.1f} s  {100 * cumulative / seconds:3.0f} %  {function}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
