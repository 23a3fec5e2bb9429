"""Text-side throughput on real tweets: the sentence encoder against its baseline, and the rest.

On the first N tweets of TweetEval's sentiment split (``../shared/data/text/tweeteval``; the
benchmark says so and exits 0 when it is absent), in one process, after a warm-up each:

- baseline: plain sentence-transformers, ``SentenceTransformer.encode`` in batches of 64;
- ``TextEncoder.encode`` with its defaults (length buckets, bfloat16 where native), plus the
  float32 variant to separate what bucketing and precision each bring; the ratio to the
  baseline and the cosine of each embedding to the baseline's;
- ``lexical_features`` (VADER alone as well), ``social.normalize`` and ``detect_language``,
  and the posts/s of the whole text side of the social-media pipeline (their times added).

Wall-clock rates on a shared machine move with its load: the load average is printed, and
only ratios within one run compare. While other processes keep the cores busy, torch's OpenMP
threads wait on each other: ``--threads 1`` then runs faster than the default. Run from the
repository root: ``python -m benchmarks.bench_text_throughput [--threads 1]`` (about 1-2
minutes on two idle CPU cores).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from mmfuse import config
from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.text import TextEncoder
from mmfuse.nlp import social
from mmfuse.nlp.language import detect_language
from mmfuse.registry import default_model, resolve
from mmfuse.tasks.social_media.features import lexical_features, vader_analyzer

TWEETS = "text/tweeteval/sentiment/val_text.txt"
BASELINE_BATCH = 64  # sentence-transformers' default batch size
WARM_UP = 64  # texts run once before timing (first-call allocations, lazy loading)


def rate(run: Callable[[Sequence[str]], object], texts: Sequence[str]) -> tuple[float, object]:
    """Texts per second of ``run(texts)`` after a warm-up, and what it returned."""
    run(texts[:WARM_UP])
    start = time.perf_counter()
    result = run(texts)
    return len(texts) / (time.perf_counter() - start), result


def cosines(a: np.ndarray, b: np.ndarray) -> str:
    both = (a * b).sum(1)
    return f"cosine to baseline min {both.min():.5f} mean {both.mean():.5f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="tweets (default 2000)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch intra-op threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    path = config.shared_data_dir() / TWEETS
    if not path.is_file():
        print(f"skipped: {path} not found (set MMFUSE_DATA)")
        return 0
    tweets = path.read_text(encoding="utf-8").splitlines()[: args.n]
    print(
        f"{len(tweets)} tweets, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    from sentence_transformers import SentenceTransformer

    model_id = default_model("text")
    baseline = SentenceTransformer(resolve(model_id).source, device="cpu")
    base_rate, reference = rate(lambda t: baseline.encode(t, batch_size=BASELINE_BATCH), tweets)
    print(f"(a) sentence-transformers, batches of {BASELINE_BATCH}: {base_rate:7.1f} tweets/s")

    encoder = create_encoder(model_id, device="cpu")
    fast_rate, fast = rate(encoder.encode, tweets)
    print(
        f"(b) TextEncoder defaults ({encoder.precision}): {fast_rate:7.1f} tweets/s, "
        f"{fast_rate / base_rate:.2f}x baseline, {cosines(fast, reference)}"
    )
    if encoder.precision != "float32":
        plain = TextEncoder(resolve(model_id), "cpu", precision="float32")
        plain_rate, plain_vectors = rate(plain.encode, tweets)
        print(
            f"    TextEncoder float32: {plain_rate:7.1f} tweets/s, "
            f"{plain_rate / base_rate:.2f}x baseline, {cosines(plain_vectors, reference)}"
        )

    vader = vader_analyzer()
    vader_rate, _ = rate(lambda t: [vader.polarity_scores(x) for x in t], tweets)
    lexical_rate, _ = rate(lexical_features, tweets)
    normalize_rate, _ = rate(lambda t: [social.normalize(x) for x in t], tweets)
    language_rate, _ = rate(lambda t: [detect_language(x) for x in t], tweets)
    print(f"    VADER polarity_scores: {vader_rate:9.1f} tweets/s")
    print(f"    lexical_features:      {lexical_rate:9.1f} tweets/s")
    print(f"    social.normalize:      {normalize_rate:9.1f} tweets/s")
    print(f"    detect_language:       {language_rate:9.1f} tweets/s")
    parts = (fast_rate, lexical_rate, normalize_rate, language_rate)
    print(f"    text side in sequence: {1 / sum(1 / r for r in parts):9.1f} tweets/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
