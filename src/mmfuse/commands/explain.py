"""How a screening matched one candidate's requirements: status, how, the path, the evidence.

``mmfuse explain OUT_DIR --id cand-1f20988faf [--requirement SQL]`` reads the run's
``requirements.csv`` and prints, for each requirement of the candidate (or those whose text
holds ``--requirement``), whether it is met, unclear or missing, how it was matched (exact,
synonym, implied, words, similar, years, degree, adjacent field), the path of an implied
match ("PostgreSQL -> SQL") and the CV sentence that supports it. With ``--id-key`` (the file
a blind run wrote with ``--id-key``) the candidate may be named by the original id.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmfuse.commands.arguments import read_table
from mmfuse.errors import EXIT_OK, UsageError

REQUIREMENTS_CSV = "requirements.csv"  # (tasks.screening.summary writes it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the output folder of a screening run")
    parser.add_argument("--id", required=True, help="the candidate's id in results.csv")
    parser.add_argument(
        "--requirement", default="", help="only requirements whose text holds this (any case)"
    )
    parser.add_argument(
        "--id-key", type=Path, help="the run's id,original_id file: --id may be an original id"
    )


def run(args: argparse.Namespace) -> int:
    path = args.out / REQUIREMENTS_CSV
    if not path.is_file():
        raise UsageError(f"{path} not found: explain reads the requirements.csv of a screening")
    wanted = args.id
    if args.id_key:
        key = {r["original_id"]: r["id"] for r in read_table(args.id_key, ("id", "original_id"))}
        wanted = key.get(wanted, wanted)
    columns = ("id", "rank", "requirement", "must", "status", "how", "via", "evidence")
    rows = [r for r in read_table(path, columns) if r["id"] == wanted]
    if not rows:
        raise UsageError(f"no candidate {args.id!r} in {path}")
    rows = [r for r in rows if args.requirement.lower() in r["requirement"].lower()]
    if not rows:
        raise UsageError(f"candidate {args.id!r} has no requirement holding {args.requirement!r}")
    print(f"{wanted} (rank {rows[0]['rank'] or '-'})")
    for row in rows:
        must = "must" if row["must"] == "True" else "nice"
        how = f", {row['how']}" if row["how"] else ""
        via = f": {row['via']}" if row["via"] else ""
        print(f"- [{row['status']}{how}{via}] ({must}) {row['requirement']}")
        if row["evidence"]:
            print(f"    evidence: {row['evidence']}")
    sys.stdout.flush()
    return EXIT_OK


# Shown at the end of ``mmfuse explain --help``.
EXAMPLES = """
mmfuse explain out/screening --id cand-1f20988faf
mmfuse explain out/screening --id "Anna Meyer" --id-key id_key.csv --requirement SQL
"""
