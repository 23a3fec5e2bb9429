"""Running the wildlife pipeline in a test: a folder, a species list, the rows by id."""

from __future__ import annotations

import csv
from pathlib import Path

from mmfuse import cli


def run_wildlife(folder: Path, out: Path, species_text: str, *flags: str) -> dict[str, dict]:
    """``mmfuse run wildlife`` on ``folder`` with the species list ``species_text``; asserts
    it exits 0 and returns results.csv's rows by id."""
    species = out.parent / f"{out.name}-species.txt"
    species.write_text(species_text, encoding="utf-8")
    argv = ["run", "wildlife", str(folder), "-o", str(out), "--species", str(species)]
    assert cli.main([*argv, "--no-progress", "-q", *flags]) == 0
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        return {row["id"]: row for row in csv.DictReader(stream)}
