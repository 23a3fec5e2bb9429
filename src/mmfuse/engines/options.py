"""How a run is run: the engine, workers, batch size, cache and output switches.

These never change the table, so they stay out of the cache key; they are options like a
task's (``mmfuse.tasks.options``): flags, ``--config`` keys and the manifest's record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmfuse.errors import UsageError
from mmfuse.progress import PROGRESS_MODES
from mmfuse.tasks.options import option

ENGINES = ("local", "ray")
# Decode threads (local) or model actors (Ray): a few, since decoders are IO-bound.
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)
DEFAULT_BATCH_SIZE = 8


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what to compute: these never change the table)."""

    engine: str = option("local", "local (threads in this process) or ray", choices=ENGINES)
    ray_address: str | None = option(
        None, "Ray cluster to join (e.g. auto, ray://head:10001); default: a local one"
    )
    workers: int = option(DEFAULT_WORKERS, "decode threads, or Ray model actors")
    batch_size: int = option(DEFAULT_BATCH_SIZE, "items per model batch")
    use_cache: bool = option(True, "read and write the results cache", flag="--cache")
    cache_dir: Path | None = option(
        None, "cache root for results, features and derived weights (default: MMFUSE_CACHE)"
    )
    overwrite: bool = option(False, "replace a different run's outputs in --out")
    report: bool = option(True, "write report.html at the end (a page of charts and rows)")
    progress: str = option("auto", "progress bar: auto (on a terminal), on or off")
    quiet: bool = option(False, "warnings and errors only")
    verbose: bool = option(False, "debug logging (Ray's own logs too)")
    device: str | None = option(None, "cpu, cuda or cuda:N (default: CUDA when present)")

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}; choose one of {ENGINES}")
        if self.progress not in PROGRESS_MODES:
            raise UsageError(f"unknown progress mode {self.progress!r}")
        if self.workers < 1 or self.batch_size < 1:
            raise UsageError("--workers and --batch-size must be at least 1")
