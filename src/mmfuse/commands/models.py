"""List the registered models: role, size, licence, installed, and weight hash check."""

from __future__ import annotations

import argparse

from mmfuse.errors import ModelUnavailable
from mmfuse.registry import list_models, weight_hashes


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
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return 0
