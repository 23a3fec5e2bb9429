"""Screening throughput on text-only CVs, models loaded: CVs a second, and where the time goes.

The CVs are the five resume_matcher resumes (``../shared/data/documents/resume_matcher``; the
benchmark says so and exits 0 when they are absent) and the four sample CVs, cycled to ``N``
(each gets its own number, so no two are identical). The job is the full-stack description.
After a warm-up batch (models loaded, first-call allocations done), ``Screener.screen`` runs
over all of them in batches of the task's default size, and the same CVs are timed stage by
stage: redaction (presidio's recognisers over the one spaCy pass that also gives the lemmas),
the sentence embeddings, and the rest (sections, requirements matching, scores).

Wall-clock rates on a shared machine move with its load: the load average is printed, and
the process's CPU time per CV, which moves less (with one torch thread it is the work one
core does per CV). Run
from the repository root: ``python -m benchmarks.bench_screening_throughput [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path

import torch

from mmfuse import config
from mmfuse.encoders.text import TextEncoder
from mmfuse.io.documents import read_document
from mmfuse.registry import default_model, resolve
from mmfuse.tasks.screening.matching import MIN_EMBED_WORDS, split_sentences
from mmfuse.tasks.screening.screen import Screener
from mmfuse.tasks.screening.task import DEFAULT_BATCH

RESUMES = "documents/resume_matcher"
SAMPLE_CVS = Path(__file__).resolve().parents[1] / "sample_data" / "screening" / "candidates"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=192, help="CVs to screen (default: 192)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "float32", "bfloat16"),
        help="text encoder (default: auto, the screening task's default)",
    )
    args = parser.parse_args()
    folder = config.shared_data_dir() / RESUMES
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    torch.set_num_threads(args.threads)
    base = [read_document(p) for p in sorted((folder / "Resumes").glob("*.pdf"))]
    base += [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_CVS.glob("*/cv.txt"))]
    cvs = [f"{base[i % len(base)]}\nReference number {i}." for i in range(args.n)]
    job = read_document(folder / "JobDescription" / "job_desc_full_stack_engineer.pdf")
    encoder = TextEncoder(resolve(default_model("text")), "cpu", args.precision)
    screener = Screener(encoder, job, as_of=date(2026, 11, 30))
    screener.screen(cvs[:DEFAULT_BATCH])  # warm-up
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; torch threads "
          f"{args.threads}; {encoder.precision}")  # fmt: skip

    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(cvs), DEFAULT_BATCH):
        screener.screen(cvs[start : start + DEFAULT_BATCH])
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"screen: {len(cvs)} CVs in {total:.1f} s = {len(cvs) / total:.1f} CVs/s "
          f"({cpu / len(cvs) * 1000:.0f} ms of CPU time a CV)")  # fmt: skip

    started = time.perf_counter()
    redactions = [screener.redact(cv) for cv in cvs]
    redact = time.perf_counter() - started
    sentences = [s for r in redactions for s in split_sentences(r.text)]
    sentences = [s for s in sentences if len(s.split()) >= MIN_EMBED_WORDS]  # as screen() does
    started = time.perf_counter()
    encoder.encode(sentences, batch_size=256)
    embed = time.perf_counter() - started
    print(f"  redaction (spaCy + presidio): {redact / len(cvs) * 1000:.0f} ms/CV")
    print(f"  sentence embeddings ({len(sentences) / len(cvs):.0f} embedded sentences/CV): "
          f"{embed / len(cvs) * 1000:.0f} ms/CV")  # fmt: skip
    rest = total - redact - embed
    print(f"  the rest (sections, matching, scores): {rest / len(cvs) * 1000:.0f} ms/CV")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
