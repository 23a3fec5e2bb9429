"""Fairness audit of a results table: selection rate per group, adverse-impact ratio, four-fifths.

``mmfuse audit RESULTS.csv --groups groups.csv --group-column gender --top 10`` (or
``--threshold 70``) joins self-reported group data, which never entered the model, to the
results by id, and reports each group's selection rate, its ratio to the best-off group, the
four-fifths rule and Fisher's exact test. Any table with an id and a score column works: the
zero-shot results, a trained model's predictions.

Rules, so that the audit never depends on row order or hides a bad table:

- ``--top K`` selects the K best scores and every candidate tied with the K-th.
- An id repeated in either file is a usage error (exit 2), naming the id.
- Rows without a finite score (failed ones) are left out, and their number is said.
- A selection that takes all or none of the candidates with group data (a threshold beyond
  their scores, a K past their number) is a usage error: it has nothing to compare.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

from mmfuse.commands.arguments import read_table
from mmfuse.errors import EXIT_OK, UsageError
from mmfuse.fairness import BLIND_ID_PREFIX
from mmfuse.io.writers import atomic_write, write_csv


def finite(text: str) -> float:
    """A finite float for argparse: ``nan`` and ``inf`` are refused (exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="results.csv of a screening (or predictions)")
    parser.add_argument("--groups", type=Path, required=True, help="CSV of id and group columns")
    parser.add_argument("--group-column", required=True, help="the group column to audit")
    parser.add_argument("--id-column", default="id", help="id column of both files (default: id)")
    parser.add_argument(
        "--score-column", default="fit_score", help="score to select by (default: fit_score)"
    )
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--top", type=int, help="select the K best-scored candidates and any tied with the K-th"
    )
    choice.add_argument("--threshold", type=finite, help="select candidates scoring at least S")
    parser.add_argument("-o", "--out", type=Path, help="write the audit as CSV here")
    parser.add_argument(
        "--id-key",
        type=Path,
        help="the id,original_id file a blind screening wrote with --id-key: groups keyed "
        "by the original ids (the candidates' names) are joined through it",
    )


def _once(rows: list[dict], column: str, path: Path) -> None:
    """Refuse a table where an id appears twice: which row to count would be a guess."""
    counts = Counter(r[column] for r in rows if r[column])
    repeated = [key for key, n in counts.items() if n > 1]
    if repeated:
        more = f" ({len(repeated) - 1} more ids repeated)" if len(repeated) > 1 else ""
        raise UsageError(
            f"{path}: {column} {repeated[0]!r} appears {counts[repeated[0]]} times{more}; "
            "each id must appear once"
        )


def _score(row: dict, column: str) -> float | None:
    """The row's score, or None when it failed or has no finite score."""
    if row.get("error"):
        return None
    try:
        value = float(row[column])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def select(scores: list[float], top: int | None, threshold: float | None) -> list[bool]:
    """Which scores are selected: ``>= threshold``, or the ``top`` best and all tied with the
    top-th best, so that the selection never depends on the rows' order."""
    if threshold is None:
        ranked = sorted(scores, reverse=True)
        threshold = ranked[min(top, len(ranked)) - 1] if ranked else math.inf
    return [s >= threshold for s in scores]


def run(args: argparse.Namespace) -> int:
    from mmfuse.fairness import COLUMNS, audit

    if args.top is not None and args.top < 1:
        raise UsageError("--top must be at least 1")
    rows = read_table(args.results, (args.id_column, args.score_column))
    _once(rows, args.id_column, args.results)
    group_rows = read_table(args.groups, (args.id_column, args.group_column))
    _once(group_rows, args.id_column, args.groups)
    groups = {
        r[args.id_column]: r[args.group_column].strip() for r in group_rows if r[args.id_column]
    }
    if args.id_key:
        key = read_table(args.id_key, ("id", "original_id"))
        groups.update(
            {k["id"]: groups[k["original_id"]] for k in key if k["original_id"] in groups}
        )

    scored = [(r, s) for r in rows if (s := _score(r, args.score_column)) is not None]
    chosen = select([s for _, s in scored], args.top, args.threshold)
    joined = [
        (c, groups.get(r[args.id_column], ""), s) for (r, s), c in zip(scored, chosen, strict=True)
    ]
    missing = sum(1 for _, g, _ in joined if not g)
    joined = [j for j in joined if j[1]]
    if not joined:
        blind = any(r[args.id_column].startswith(BLIND_ID_PREFIX) for r, _ in scored)
        hint = (
            f"; the results' ids were replaced ({BLIND_ID_PREFIX}...): add --id-key with the file "
            "the screening wrote with --id-key to join groups keyed by the original ids"
            if blind and not args.id_key
            else ""
        )
        raise UsageError(f"no scored candidate of the results has a group in the groups file{hint}")
    rule = f"top {args.top}" if args.top is not None else f"{args.score_column} >= {args.threshold}"
    n_chosen = sum(c for c, _, _ in joined)
    if n_chosen in (0, len(joined)):
        low, high = min(s for *_, s in joined), max(s for *_, s in joined)
        raise UsageError(
            f"{rule} selects {'none' if n_chosen == 0 else 'all'} of the {len(joined)} "
            f"candidates with group data (scores {low:g} to {high:g}): nothing to compare"
        )

    table = [g.to_row() for g in audit([c for c, _, _ in joined], [g for _, g, _ in joined])]
    print(f"selection: {rule}; {len(joined)} candidates with group data", file=sys.stderr)
    if args.top is not None and sum(chosen) > args.top:
        cut = min(s for (_, s), c in zip(scored, chosen, strict=True) if c)
        print(
            f"{sum(chosen)} selected: the top {args.top} and the {sum(chosen) - args.top} "
            f"tied with the last of them (score {cut:g})",
            file=sys.stderr,
        )
    if len(rows) > len(scored):
        print(
            f"{len(rows) - len(scored)} row(s) without a score (failed) are left out",
            file=sys.stderr,
        )
    if missing:
        print(f"{missing} candidates have no group data and are left out", file=sys.stderr)
    if args.out:
        with atomic_write(args.out) as stream:
            write_csv(table, COLUMNS, stream)
    write_csv(table, COLUMNS, sys.stdout)
    return EXIT_OK


# Shown at the end of ``mmfuse audit --help``.
EXAMPLES = """
mmfuse audit out/screening/results.csv --groups groups.csv --group-column gender --top 10
mmfuse audit out/new/results.csv --groups g.csv --group-column age --threshold 70 -o audit.csv
"""
