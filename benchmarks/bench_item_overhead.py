"""Per-item CPU cost outside the models: social-media text posts and camera-trap photos, by stage.

On a GPU the models' forward passes take a fraction of a millisecond per post or photo; what
bounds the rate there is the Python around them, on the CPU. This benchmark measures that
part. It runs the command a user runs, in this process (``mmfuse.cli.main``, the flags of
``scripts/device_check.py``'s throughput: ``--no-cache --no-report``, on the CPU): ``mmfuse run
social-media`` on a CSV of the first N TweetEval tweets (``../shared/data/text/tweeteval``)
and ``mmfuse run wildlife`` on the camera-trap photos of ``../shared/data/images`` copied into
one folder (the benchmark says so and exits 0 when they are absent). With one torch thread,
so that every forward pass runs on the thread that called it, it times the CPU time of each
thread inside each stage (a stage's own time, the stages it calls taken out), decode threads
included: the model forwards (sentence encoder, fusion model, CNN scans and crops), then the
rest by stage. The model loading (``setup``) is counted apart, once per run. What is left
of the process's CPU time is "other" (engine, CSV reading, threads).

Printed per task: ms of CPU a post (a photo) outside the models and setup, each stage's share,
the ceiling that implies on one core (1000 / ms: items a second if the models cost nothing),
and the part of it on the main thread, the one that runs the models (the decode threads work
beside it on a machine with cores to spare, as far as Python's GIL lets them). ``--against
REV`` measures the commit REV's ``src/`` too (``git archive`` into a temporary folder),
alternating the two in fresh processes, and prints the ratio of each pair: on a shared
machine only ratios within one run compare. Run from the
repository root: ``python -m benchmarks.bench_item_overhead [-n 2000] [--against REV]
[--repeats 2] [--task social-media|wildlife]``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TWEETS = "text/tweeteval/sentiment/val_text.txt"
PHOTO_SETS = (
    "images/speciesnet",
    "images/camtrapdp_example",
    "images/camtrapr_borneo",
    "images/squirrel_sequence",
)
SPECIES = ROOT / "sample_data" / "wildlife" / "species.txt"
FLAGS = ["--no-cache", "--no-report", "--no-progress", "--overwrite", "-q", "--device", "cpu"]
MODEL, SETUP = "model forward", "setup (once)"
WARM_TWEETS = 200  # the warm-up's tweets: the file's last ones, never the measured ones


class Stages:
    """CPU time of each thread in wrapped functions, each stage's own (callees taken out)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.main_thread = 0.0  # of which on the main thread
        self._local = threading.local()
        self._lock = threading.Lock()
        self._undo: list = []

    def wrap(self, owner, name: str, stage: str, after=None) -> None:
        """Times ``owner.name`` (a module function or a class's method) as ``stage``; a
        missing attribute (another version of the code) is skipped. ``after(result, *args)``
        runs after each call, outside the timing."""
        original = owner.__dict__.get(name) if isinstance(owner, type) else None
        function = getattr(owner, name, None)
        if function is None or isinstance(original, staticmethod | classmethod | property):
            return

        def timed(*args, **kwargs):
            stack = self._local.__dict__.setdefault("stack", [])
            stack.append(0.0)  # time of the stages this one calls
            start = time.thread_time()
            try:
                result = function(*args, **kwargs)
            finally:
                elapsed = time.thread_time() - start
                callees = stack.pop()
                if stack:
                    stack[-1] += elapsed
                with self._lock:
                    self.seconds[stage] += elapsed - callees
                    if threading.current_thread() is threading.main_thread():
                        self.main_thread += elapsed - callees
            if after is not None:
                after(result, *args)
            return result

        setattr(owner, name, timed)
        self._undo.append((owner, name, original if isinstance(owner, type) else function))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._undo.clear()


def _wrap_common(stages: Stages) -> None:
    from mmfuse import cache, runner
    from mmfuse.commands import arguments
    from mmfuse.engines import local
    from mmfuse.io import writers

    stages.wrap(cache.Cache, "put", "journal (row writes)")
    stages.wrap(runner, "_content_keys", "hashing inputs")
    stages.wrap(runner, "_write_tables", "results.csv and .parquet")
    stages.wrap(writers, "write_csv", "results.csv and .parquet")
    stages.wrap(local, "check_files", "file checks")
    stages.wrap(local, "run_local", "engine")
    stages.wrap(local, "decode_item", "engine")
    stages.wrap(runner, "_run_locked", "runner")
    stages.wrap(arguments, "items_from_args", "reading the input list")


def _wrap_social(stages: Stages) -> None:
    from mmfuse.encoders import text
    from mmfuse.fusion import inference
    from mmfuse.nlp import language
    from mmfuse.tasks.social_media import features, featurize, scoring, stack, task

    stages.wrap(task.SocialMediaTask, "setup", SETUP)
    stages.wrap(text.TextEncoder, "_forward", MODEL)
    stages.wrap(inference, "forward_all", MODEL)
    stages.wrap(task, "decode_media", "decode: read the post")
    stages.wrap(language, "detect_language", "decode: language")
    stages.wrap(language, "detect_languages", "decode: language")
    stages.wrap(featurize.Featurizer, "prepare", "normalize (emojis, hashtags)")
    stages.wrap(featurize.Featurizer, "prepare_all", "normalize (emojis, hashtags)")
    stages.wrap(features, "lexical_features", "lexical features (VADER, signals)")
    stages.wrap(featurize.Featurizer, "_cached", "feature cache keys")
    stages.wrap(featurize.Featurizer, "featurize", "tokens (the rest)")
    stages.wrap(text.TextEncoder, "encode_read", "text encoder: padding, pooling")
    stages.wrap(text.TextEncoder, "_tokenize", "tokenizer")
    stages.wrap(stack.TextStacks, "predict", "TF-IDF and linear stacks")
    stages.wrap(scoring, "infer", "fusion: tensors in and out")
    stages.wrap(scoring, "score_posts", "scores (the rest)")
    stages.wrap(task.SocialMediaTask, "process", "scores (the rest)")
    stages.wrap(scoring, "without_praise", "sarcasm: praise words out")
    stages.wrap(scoring, "_fill_predictions", "scores into cells")
    stages.wrap(scoring, "_fill_vectors", "topics and rows")
    stages.wrap(task.SocialMediaTask, "_row", "topics and rows")
    stages.wrap(task.SocialMediaTask, "finish", "summary.csv")


def _wrap_wildlife(stages: Stages) -> None:
    import torch
    from timm.models.efficientnet import EfficientNet

    from mmfuse.encoders import image as image_encoder
    from mmfuse.io import image
    from mmfuse.tasks.wildlife import locate, motion, naming, reading, scan, task

    stages.wrap(task.WildlifeTask, "setup", SETUP)
    for name in ("forward_features", "forward_head"):
        stages.wrap(EfficientNet, name, MODEL)
    stages.wrap(torch.nn.Linear, "forward", MODEL)  # the classifier over windows and crops
    stages.wrap(image, "load_image", "decode: JPEG")
    stages.wrap(reading, "load_image", "decode: JPEG")
    stages.wrap(reading, "thumbnail", "thumbnails and motion")
    stages.wrap(motion, "motion_boxes", "thumbnails and motion")
    stages.wrap(locate, "picture_rows", "info bars (picture rows)")
    stages.wrap(reading, "picture_rows", "info bars (picture rows)")
    stages.wrap(scan, "scan_pixels", "scan: resize and normalise")
    stages.wrap(scan, "window_masses", "scan: windows")
    stages.wrap(scan, "propose", "scan: windows")
    stages.wrap(locate, "crop", "crops")
    stages.wrap(image_encoder.TimmImageEncoder, "_forward", "crops: resize and normalise")
    stages.wrap(locate.Locator, "locate", "locate (the rest)")
    stages.wrap(locate.Locator, "prepare", "locate (the rest)")
    stages.wrap(naming.Namer, "evidence", "species naming")
    stages.wrap(task.WildlifeTask, "decode", "decode: the rest (burst, camera)")
    stages.wrap(task.WildlifeTask, "_row", "row (the rest)")
    stages.wrap(task.WildlifeTask, "complete", "naming and outputs")
    stages.wrap(task.WildlifeTask, "finish", "naming and outputs")


def _tweets_csv(path: Path, texts: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(texts))
    return path


def social_input(work: Path, n: int) -> tuple[list[str], list[str], int] | None:
    """The command lines of the warm-up (other tweets) and of the measured run, and its size."""
    from mmfuse import config

    path = config.shared_data_dir() / TWEETS
    if not path.is_file():
        return None
    texts = path.read_text(encoding="utf-8").splitlines()
    warm = _tweets_csv(work / "warm.csv", texts[-WARM_TWEETS:])
    posts = _tweets_csv(work / "tweets.csv", texts[:n])
    return ["run", "social-media", str(warm)], ["run", "social-media", str(posts)], n


def wildlife_input(work: Path, n: int) -> tuple[list[str], list[str], int] | None:
    from mmfuse import config

    data, photos = config.shared_data_dir(), work / "photos"
    found = 0
    for folder in PHOTO_SETS:
        for path in sorted((data / folder).rglob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg") and "truncated" not in path.name:
                photos.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, photos / f"{path.parent.name}-{path.name}")
                found += 1
    if not found:
        return None
    options = ["--species", str(SPECIES), "--cameras", "input"]
    warm = ["run", "wildlife", str(ROOT / "sample_data" / "wildlife" / "survey"), *options]
    return warm, ["run", "wildlife", str(photos), *options], found


TASKS = {
    "social-media": (social_input, _wrap_social, "post"),
    "wildlife": (wildlife_input, _wrap_wildlife, "photo"),
}


def measure(task: str, n: int) -> dict | None:
    """One task's stages in this process: {"items", "cpu_s", "wall_s", "stages": {...}}."""
    import cv2
    import torch

    from mmfuse import cli

    torch.set_num_threads(1)
    cv2.setNumThreads(0)  # OpenCV's own threads off: its work runs on the thread that asks
    make_input, wrap, _ = TASKS[task]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        made = make_input(work, n)
        if made is None:
            return None
        warm, argv, items = made
        flags = [*FLAGS, "--cache-dir", str(work / "cache")]
        cli.main([*warm, *flags, "-o", str(work / "warm")])  # first-call costs
        stages = Stages()
        _wrap_common(stages)
        wrap(stages)
        try:
            cpu, wall, main = time.process_time(), time.perf_counter(), time.thread_time()
            code = cli.main([*argv, *flags, "-o", str(work / "out")])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            main = time.thread_time() - main
        finally:
            stages.restore()
        manifest = json.loads((work / "out" / "manifest.json").read_text())
    return {
        "items": items,
        "failed": manifest["items"]["failed"],
        "exit": code,
        "cpu_s": cpu,
        "wall_s": wall,
        "stages": dict(stages.seconds),
        "other_main_s": main - stages.main_thread,
        "main_s": main,
        "load": os.getloadavg()[0],
    }


def outside_ms(result: dict) -> float:
    """ms of CPU per item outside the model forwards and the setup."""
    stages = result["stages"]
    inside = stages.get(MODEL, 0.0) + stages.get(SETUP, 0.0)
    return 1000 * (result["cpu_s"] - inside) / result["items"]


def main_thread_ms(result: dict) -> float:
    """ms of the main thread's CPU per item outside the model forwards and the setup (both run
    there): what the decode threads do beside it is not in it."""
    stages = result["stages"]
    inside = stages.get(MODEL, 0.0) + stages.get(SETUP, 0.0)
    return 1000 * (result["main_s"] - inside) / result["items"]


def describe(task: str, result: dict, label: str) -> list[str]:
    unit = TASKS[task][2]
    stages, n = dict(result["stages"]), result["items"]
    other = result["cpu_s"] - sum(stages.values())
    stages["other, main thread"] = result["other_main_s"]
    stages["other, other threads"] = other - result["other_main_s"]
    ms = outside_ms(result)
    lines = [
        f"{label}{task}: {n} {unit}s ({result['failed']} failed), load {result['load']:.1f}, "
        f"wall {result['wall_s']:.1f} s, CPU {result['cpu_s']:.1f} s; outside the models "
        f"{ms:.3f} ms a {unit} (ceiling {1000 / ms:,.0f} {unit}s/s on one core), of which the "
        f"main thread {main_thread_ms(result):.3f} ms; model forwards "
        f"{1000 * stages.get(MODEL, 0.0) / n:.2f} ms a {unit}, setup {stages.get(SETUP, 0.0):.1f} s"
    ]
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        if stage not in (MODEL, SETUP):
            lines.append(f"    {1000 * seconds / n:8.3f} ms  {stage}")
    return lines


def _child(src: Path, task: str, n: int) -> dict | None:
    """``measure`` in a fresh process on the ``mmfuse`` package under ``src``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    env["OPENBLAS_NUM_THREADS"] = "1"  # an idle BLAS thread spins for a while after each call
    command = [sys.executable, "-m", "benchmarks.bench_item_overhead", "--child", task]
    command += ["-n", str(n)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"measurement failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _checkout(revision: str):
    """The ``src`` folder of ``revision``, extracted into a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder) / "src"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="tweets (default 2000)")
    parser.add_argument("--task", choices=tuple(TASKS), action="append")
    parser.add_argument("--against", metavar="REV", help="also measure this commit, alternating")
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs with --against")
    parser.add_argument("--child", choices=tuple(TASKS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.n)))
        return 0
    tasks = args.task or list(TASKS)
    print(f"torch threads 1; load average {os.getloadavg()[0]:.1f}", flush=True)
    if not args.against:
        for task in tasks:
            result = _child(ROOT / "src", task, args.n)
            if result is None:
                print(f"{task}: skipped, its data is not under ../shared/data")
                continue
            print("\n".join(describe(task, result, "")), flush=True)
        return 0
    with _checkout(args.against) as before:
        for task in tasks:
            for repeat in range(args.repeats):
                pair = {}
                for label, src in (("before", before), ("after", ROOT / "src")):
                    pair[label] = _child(src, task, args.n)
                    if pair[label] is None:
                        break
                    name = f"{label} ({args.against}) " if label == "before" else "after "
                    print("\n".join(describe(task, pair[label], name)), flush=True)
                if pair.get("after") is None:
                    print(f"{task}: skipped, its data is not under ../shared/data")
                    break
                before_ms, after_ms = outside_ms(pair["before"]), outside_ms(pair["after"])
                before_main, after_main = (main_thread_ms(pair[k]) for k in ("before", "after"))
                print(
                    f"{task}, pair {repeat + 1}: outside the models {before_ms:.3f} -> "
                    f"{after_ms:.3f} ms a {TASKS[task][2]}, {before_ms / after_ms:.2f}x less; "
                    f"main thread {before_main:.3f} -> {after_main:.3f} ms, "
                    f"{before_main / after_main:.2f}x less\n",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
