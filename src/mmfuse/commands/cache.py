"""Show or clear mmfuse's caches of results and embeddings.

Every folder under the cache root (``MMFUSE_CACHE``, default ``~/.cache/mmfuse``) that holds
a ``cache.sqlite`` is one cache: ``results`` (rows of finished items), and those other stages
keep (encoder embeddings). Derived model weights (``models/``) are not touched by ``clear``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from mmfuse import config
from mmfuse.cache import DB_NAME, Cache
from mmfuse.commands.files import RUNS

SECONDS_A_DAY = 86_400


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("info", "clear"), help="show sizes, or empty them")
    parser.add_argument(
        "--cache-dir", type=Path, help="one cache folder (default: every cache under the root)"
    )
    parser.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="clear only rows stored more than DAYS days ago",
    )


def cache_folders(root: Path) -> list[Path]:
    """The cache folders under ``root`` (or ``root`` itself when it is one), sorted."""
    if (root / DB_NAME).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{DB_NAME}"))


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def _run_folders(root: Path, older_than_s: float | None) -> list[Path]:
    """The run folders ``label`` and ``transcribe`` keep under ``root/runs`` (older ones only)."""
    cutoff = None if older_than_s is None else time.time() - older_than_s
    folders = (
        sorted(p for p in (root / RUNS).glob("*") if p.is_dir()) if (root / RUNS).is_dir() else []
    )
    return [p for p in folders if cutoff is None or p.stat().st_mtime < cutoff]


def run(args: argparse.Namespace) -> int:
    root = args.cache_dir or config.cache_dir()
    older = None if args.older_than is None else args.older_than * SECONDS_A_DAY
    folders, runs = cache_folders(root), _run_folders(root, older)
    if not folders and not runs:
        print(f"no caches under {root}")
        return 0
    for folder in folders:
        cache = Cache(folder)
        before = cache.info()
        if args.action == "clear":
            removed = cache.clear(older)
            print(f"cleared {folder}: {removed} of {before['rows']} rows")
        else:
            print(
                f"{folder}: {before['rows']} rows, {before['file_hashes']} file hashes, "
                f"{_size(before['bytes'])}"
            )
        cache.close()
    if runs and args.action == "clear":
        for folder in runs:
            shutil.rmtree(folder, ignore_errors=True)
        print(f"cleared {root / RUNS}: {len(runs)} run folders of label and transcribe")
    elif runs:
        size = sum(f.stat().st_size for run in runs for f in run.rglob("*") if f.is_file())
        print(f"{root / RUNS}: {len(runs)} run folders, {_size(size)}")
    return 0


# Shown at the end of ``mmfuse cache --help``.
EXAMPLES = """
mmfuse cache info
mmfuse cache clear --older-than 30
"""
