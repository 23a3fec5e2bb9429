"""Cache benchmark: a first run over a folder, then a second run with the results cache.

Each run is a fresh process, timed end to end as a user sees it (interpreter start, imports,
hashing, cache look-ups, writing every output), into its own new output folder, so the
second run does all the writing again and only the computing is saved; the runner's own
time (manifest ``total_s``, no interpreter start) is shown beside it. Target: the second run
at least 20x faster.

The toy task stands in for the models: ``--setup-delay`` seconds to load them (faster-whisper
base loads in 6 s on this project's 2-core CI machine) and ``--delay`` seconds per item (there,
EfficientNet-Lite0 takes 0.1-1 s per image and Whisper base 4-15 s per 11 s of speech, so
0.25 s is a light item). When ``mmfuse run social-media`` and its sample data exist, the real
task is measured too.

    python -m benchmarks.bench_cache [--items 200] [--delay 0.25] [--setup-delay 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 20.0


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and exit code of a command run from the repository root."""
    start = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode
    return time.perf_counter() - start, code


def bench(label: str, command: list[str], out_flag: str, work: Path, env: dict) -> dict | None:
    """Runs ``command`` twice (outputs in work/first, work/second); None if it wrote nothing."""
    first_s, first_code = timed([*command, out_flag, str(work / "first")], env)
    manifest = work / "first" / "manifest.json"
    if not manifest.is_file():
        print(f"{label}: skipped (exit code {first_code}, no manifest written)")
        return None
    second_s, second_code = timed([*command, out_flag, str(work / "second")], env)
    first, second = (
        json.loads((work / run / "manifest.json").read_text()) for run in ("first", "second")
    )
    items = second["items"]
    inside = (first["timings"]["total_s"], second["timings"]["total_s"])
    same = (work / "first/results.csv").read_bytes() == (work / "second/results.csv").read_bytes()
    result = {
        "label": label,
        "items": items["total"],
        "first_s": round(first_s, 2),
        "second_s": round(second_s, 2),
        "speedup": round(first_s / second_s, 1),
        "runner_first_s": inside[0],
        "runner_second_s": inside[1],
        "runner_speedup": round(inside[0] / inside[1], 1),
        "from_cache": items["from_cache"],
        "same_table": same,
        "exit_codes": [first_code, second_code],
    }
    verdict = "ok" if result["speedup"] >= TARGET_SPEEDUP else f"below {TARGET_SPEEDUP:.0f}x"
    print(
        f"{label}: {result['items']} items, first run {first_s:.2f} s, second run "
        f"{second_s:.2f} s ({items['from_cache']} from the cache): {result['speedup']}x "
        f"[{verdict}]; inside the runner {inside[0]:.2f} s vs {inside[1]:.2f} s "
        f"({result['runner_speedup']}x); identical table: {same}"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="toy items (default: 200)")
    parser.add_argument(
        "--delay", type=float, default=0.25, help="toy model seconds per item (default: 0.25)"
    )
    parser.add_argument(
        "--setup-delay", type=float, default=5.0, help="toy model loading seconds (default: 5)"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.helpers.media import make_folder

    results = []
    with tempfile.TemporaryDirectory(prefix="mmfuse-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "MMFUSE_CACHE": str(work / "cache")}
        folder = make_folder(work / "toy_in", args.items)
        toy = [sys.executable, "-m", "tests.helpers.toy_task", str(folder)]
        toy += ["--delay", str(args.delay), "--setup-delay", str(args.setup_delay)]
        label = f"toy task ({args.setup_delay} s setup, {args.delay} s/item)"
        results.append(bench(label, [*toy, "--no-progress"], "-o", work / "toy", env))
        sample = ROOT / "sample_data" / "social_media"
        if sample.is_dir():
            # The results cache only: derived weights stay in the user's cache, already built.
            real = [sys.executable, "-m", "mmfuse.cli", "run", "social-media", str(sample)]
            real += ["--cache-dir", str(work / "results-cache")]
            results.append(bench("social-media", real, "-o", work / "social", dict(os.environ)))
    print(json.dumps([r for r in results if r], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
