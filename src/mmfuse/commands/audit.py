"""Fairness audit of a results table: selection rate per group, adverse-impact ratio, four-fifths.

``mmfuse audit RESULTS.csv --groups groups.csv --group-column gender --top 10`` (or
``--threshold 70``) joins self-reported group data, which never entered the model, to the
results by id, and reports each group's selection rate, its ratio to the best-off group, the
four-fifths rule and Fisher's exact test. Any table with an id and a score column works: the
zero-shot results, a trained model's predictions.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from mmfuse.errors import EXIT_OK, UsageError
from mmfuse.io.writers import atomic_write, write_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="results.csv of a screening (or predictions)")
    parser.add_argument("--groups", type=Path, required=True, help="CSV of id and group columns")
    parser.add_argument("--group-column", required=True, help="the group column to audit")
    parser.add_argument("--id-column", default="id", help="id column of both files (default: id)")
    parser.add_argument(
        "--score-column", default="fit_score", help="score to select by (default: fit_score)"
    )
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--top", type=int, help="select the K best-scored candidates")
    choice.add_argument("--threshold", type=float, help="select candidates scoring at least S")
    parser.add_argument("-o", "--out", type=Path, help="write the audit as CSV here")


def _read(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            return list(csv.DictReader(stream))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None


def _score(row: dict, column: str) -> float | None:
    try:
        return float(row[column])
    except (KeyError, TypeError, ValueError):
        return None


def select(rows: list[dict], column: str, top: int | None, threshold: float | None) -> list[bool]:
    """Which rows are selected: the ``top`` best scores (ties by order) or ``>= threshold``."""
    scores = [_score(r, column) for r in rows]
    if threshold is not None:
        return [s is not None and s >= threshold for s in scores]
    order = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: -scores[i])
    chosen = set(order[: max(0, top)])
    return [i in chosen for i in range(len(rows))]


def run(args: argparse.Namespace) -> int:
    from mmfuse.tasks.screening.fairness import COLUMNS, audit

    results = [r for r in _read(args.results) if not r.get("error")]
    if results and args.score_column not in results[0]:
        raise UsageError(f"{args.results} has no column {args.score_column!r}")
    groups = {}
    for row in _read(args.groups):
        if args.group_column not in row or args.id_column not in row:
            raise UsageError(
                f"{args.groups} needs columns {args.id_column} and {args.group_column}"
            )
        groups[row[args.id_column]] = row[args.group_column].strip()
    if args.top is not None and args.top < 1:
        raise UsageError("--top must be at least 1")
    chosen = select(results, args.score_column, args.top, args.threshold)
    joined = [
        (c, groups.get(r.get(args.id_column), "")) for r, c in zip(results, chosen, strict=True)
    ]
    missing = sum(1 for _, g in joined if not g)
    joined = [(c, g) for c, g in joined if g]
    if not joined:
        raise UsageError("no candidate of the results has a group in the groups file")
    table = [g.to_row() for g in audit([c for c, _ in joined], [g for _, g in joined])]
    rule = f"top {args.top}" if args.top is not None else f"{args.score_column} >= {args.threshold}"
    print(f"selection: {rule}; {len(joined)} candidates with group data", file=sys.stderr)
    if missing:
        print(f"{missing} candidates have no group data and are left out", file=sys.stderr)
    if args.out:
        with atomic_write(args.out) as stream:
            write_csv(table, COLUMNS, stream)
    write_csv(table, COLUMNS, sys.stdout)
    return EXIT_OK
