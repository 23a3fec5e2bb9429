"""List the registered models: role, size, licence, installed, and weight hash check.

Also lists the fusion models shipped inside mmfuse (``mmfuse-base``). Exits 1 when a weight
file is missing or does not match its recorded SHA-256.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, ModelUnavailable
from mmfuse.fusion.model import CHECKPOINTS_DIR
from mmfuse.registry import list_models, weight_hashes
from mmfuse.tasks.social_media.task import DEFAULT_MODEL as DEFAULT_FUSION_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-verify", action="store_true", help="skip hashing the weight files (faster)"
    )


def hash_status(spec, verify: bool) -> str:
    """'ok', 'MISMATCH', 'derived' (no recorded hash), 'not checked' or '-' (not installed)."""
    if not spec.installed():
        return "-"
    if not spec.files:
        return "derived"
    if not verify:
        return "not checked"
    try:
        actual = weight_hashes(spec)
    except (OSError, ModelUnavailable):
        return "MISSING"
    return "ok" if actual == spec.files else "MISMATCH"


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def run(args: argparse.Namespace) -> int:
    header = ("model", "role", "default", "size", "licence", "installed", "sha256", "note")
    rows = [
        (
            spec.id,
            spec.role,
            "yes" if spec.default else "",
            f"{spec.size_mb:.1f} MB",
            spec.licence,
            "yes" if spec.installed() else "no",
            hash_status(spec, not args.no_verify),
            spec.note,
        )
        for spec in list_models()
    ]
    rows += [
        (
            name,
            "fusion",
            "yes" if name == DEFAULT_FUSION_MODEL else "",
            f"{_folder_mb(CHECKPOINTS_DIR / name):.1f} MB",
            "Apache-2.0 (data: see MODEL_CARD.md)",
            "yes",
            "shipped",
            "mmfuse run social-media --model NAME; `mmfuse train` writes more",
        )
        for name in sorted(p.name for p in CHECKPOINTS_DIR.glob("*") if p.is_dir())
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    damaged = [row[0] for row in rows if row[6] in ("MISMATCH", "MISSING")]
    if damaged:
        print(f"weights that fail their hash check: {', '.join(damaged)}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK
