"""End to end: every registered task on its sample folder and on a 10x larger copy of it.

For each task ``mmfuse run --help`` lists, ``mmfuse run TASK FOLDER --no-cache`` runs in a
fresh process (as a user runs it: interpreter start, model loading, writing the tables) on its
sample folder (``sample_data/social_media`` for tasks without one: encode, label, transcribe)
and, for tasks with a sample folder of their own, on a folder the benchmark makes with ten
copies of each entry. Printed: items/s, the peak RSS of the process, and the slowest stages of
the larger run from a profile: that run is timed under cProfile (which sees the main thread:
model loading, encoders, fusion, rows; decode threads are not in it), whose overhead on these
runs, heavy in native code, measured 1-14 % when they were also timed without it. Run from
the repository root: ``python -m benchmarks.bench_end_to_end [TASK ...] [--copies 10]``.
"""

from __future__ import annotations

import argparse
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
SAMPLES = ROOT / "sample_data"
FALLBACK_SAMPLE = "social_media"
# Tasks whose input is not their sample folder itself: (folder, extra arguments).
INPUTS = {
    "screening": ("screening/candidates", ("--job", str(SAMPLES / "screening" / "job.txt"))),
    "wildlife": ("wildlife/survey", ("--species", str(SAMPLES / "wildlife" / "species.txt"))),
}
# Arguments a task needs on another task's sample folder.
FALLBACK_ARGUMENTS = {"label": ("--labels", "a person,an animal,food,a building,a landscape")}
# Functions the profile reports as stages: the encoders, the fusion model, tasks, NLP.
STAGE_PREFIXES = ("mmfuse/encoders/", "mmfuse/fusion/", "mmfuse/tasks/", "mmfuse/nlp/")
TOP_STAGES = 6


def task_input(task: str) -> tuple[Path, tuple[str, ...], bool]:
    """The task's sample input folder, its extra arguments, and whether the sample is its own."""
    folder, extra = INPUTS.get(task, (task.replace("-", "_"), ()))
    if (SAMPLES / folder).is_dir():
        return SAMPLES / folder, extra, True
    return SAMPLES / FALLBACK_SAMPLE, FALLBACK_ARGUMENTS.get(task, ()), False


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


def run_cli(
    task: str, folder: Path, out: Path, *extra: str, profile: Path | None = None
) -> tuple[float, float, int]:
    """Seconds, peak RSS (MB) and exit code of ``mmfuse run TASK FOLDER`` in a new process."""
    command = [sys.executable, "-m", "mmfuse.cli", "-q", "run", task, str(folder)]
    command += ["-o", str(out), "--no-cache", "--overwrite", "--no-progress", *extra]
    if profile is not None:
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def stages(profile: Path) -> list[tuple[str, float]]:
    """The mmfuse functions of a cProfile file with the most cumulative time (main thread)."""
    found = []
    for (file, _, function), row in pstats.Stats(str(profile)).stats.items():
        path = file.replace(os.sep, "/")
        if any(prefix in path for prefix in STAGE_PREFIXES):
            module = path.split("mmfuse/", 1)[1].removesuffix(".py").replace("/", ".")
            found.append((f"{module}.{function}", row[3]))
    return sorted(found, key=lambda s: -s[1])[:TOP_STAGES]


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
            sample, extra, own = task_input(task)
            runs = [("sample", sample)]
            if own:
                big = copies(sample, Path(tmp) / f"{task}-x{args.copies}", args.copies)
                runs.append((f"{args.copies}x", big))
            profile = Path(tmp) / f"{task}.prof"
            for name, folder in runs:
                n = len(discover(folder))
                out = Path(tmp) / f"out-{task}-{name}"
                # the larger run of a task with its own sample folder is the profiled one
                profiled = own and not args.no_profile and folder == runs[-1][1] and len(runs) > 1
                seconds, peak, code = run_cli(
                    task, folder, out, *extra, profile=profile if profiled else None
                )
                print(
                    f"{task:13} {name:6} {n:4d} items  {seconds:6.1f} s  {n / seconds:6.2f} "
                    f"items/s  peak RSS {peak:5.0f} MB"
                    + (f"  exit {code}" if code else "")
                    + ("" if own else f"  (on sample_data/{FALLBACK_SAMPLE})")
                    + ("  (under cProfile)" if profiled else "")
                )
                if profiled:
                    print(f"{task} {name}, where the time went (main thread):")
                    for function, cumulative in stages(profile):
                        share = 100 * cumulative / seconds
                        print(f"    {cumulative:6.1f} s  {share:3.0f} %  {function}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
