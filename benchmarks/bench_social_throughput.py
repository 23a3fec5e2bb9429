"""Social-media pipeline throughput on text-only posts, against MiniLM alone.

On the first N tweets of TweetEval's sentiment split (``../shared/data/text/tweeteval``; the
benchmark says so and exits 0 when it is absent), in one process:

- baseline: MiniLM alone, plain ``SentenceTransformer.encode`` in batches of 64 (the
  issue's reference point: about 114 tweets/s when the issue was written, 188-229 in
  this project's runs);
- the pipeline: ``SocialMediaTask`` with the shipped ``mmfuse-base`` through the local engine
  (decode threads with language detection, batches of ``TEXT_BATCH``, sentence embeddings,
  lexical and bag-of-words features, the fusion model, topics, row building), with its models
  loaded beforehand and no results or feature cache; once with the sentence encoder in
  float32 and once at the default precision, ``auto`` (bfloat16 where the hardware
  multiplies it natively, as on AVX512-BF16 or AMX CPUs; float32 elsewhere). Either way a
  post's row does not depend on its batch.

Target: at least 200 posts/s for the pipeline. Rates move with the machine's load (printed);
the ratio to the baseline within one run is what compares across runs. Run from the
repository root: ``python -m benchmarks.bench_social_throughput [-n 2000] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from mmfuse import config
from mmfuse.engines.local import run_local
from mmfuse.engines.options import RunOptions
from mmfuse.registry import default_model, resolve
from mmfuse.tasks.social_media.task import TEXT_BATCH, SocialMediaTask, SocialOptions
from mmfuse.types import Item

TWEETS = "text/tweeteval/sentiment/val_text.txt"
BASELINE_BATCH = 64
TARGET = 200.0  # posts/s the issue asks for
PRECISIONS = ("float32", "auto")


def baseline_rate(texts: list[str]) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve(default_model("text")).source, device="cpu")
    model.encode(texts[:BASELINE_BATCH], batch_size=BASELINE_BATCH)
    start = time.perf_counter()
    model.encode(texts, batch_size=BASELINE_BATCH)
    return len(texts) / (time.perf_counter() - start)


def pipeline_rate(texts: list[str], precision: str) -> tuple[float, str]:
    """Posts/s of the pipeline and the precision its text encoder ran in."""
    task = SocialMediaTask(SocialOptions(text_precision=precision))
    task.setup()
    items = [Item(f"t{i}", text=text) for i, text in enumerate(texts)]
    options = RunOptions(batch_size=TEXT_BATCH, use_cache=False, progress="off")
    list(run_local(task, items[:TEXT_BATCH], options))  # warm-up
    start = time.perf_counter()
    rows = list(run_local(task, items, options))
    elapsed = time.perf_counter() - start
    failed = sum(1 for row in rows if row["error"])
    if failed:
        print(f"warning: {failed} rows with errors")
    return len(items) / elapsed, task.settings()["text_precision"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="tweets (default 2000)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    path = config.shared_data_dir() / TWEETS
    if not path.is_file():
        print(f"skipped: {path} not found (set MMFUSE_DATA)")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = path.read_text(encoding="utf-8").splitlines()[: args.n]
    print(
        f"{len(texts)} tweets, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    base = baseline_rate(texts)
    print(f"baseline MiniLM alone, batches of {BASELINE_BATCH}: {base:7.1f} tweets/s")
    for precision in PRECISIONS:
        rate, ran = pipeline_rate(texts, precision)
        verdict = "meets" if rate >= TARGET else "misses"
        print(
            f"social-media pipeline, text only, {precision} ({ran}): {rate:7.1f} posts/s "
            f"({rate / base:.2f}x the baseline; {verdict} the {TARGET:.0f} posts/s target)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
