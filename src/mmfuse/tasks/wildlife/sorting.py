"""Sorting a survey into folders by what each file shows: ``--sort-into DIR``.

``DIR/<species>/``, ``DIR/blank/``, ``DIR/person/``, ``DIR/vehicle/`` (and ``DIR/animal/`` for
an animal without a name), each keeping the file's path under the input folder
(``DIR/leopard cat/StationA/cam1/IMG_0001.JPG``), so files of two cameras with one name do not
collide. Files are linked (symbolic links to the originals) or, with ``--copy``, copied; the
originals are never moved or changed. A file that failed is not sorted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

# Characters a folder name may not hold on the common file systems (Windows' set).
UNSAFE = '<>:"/\\|?*'


def folder_name(row: dict) -> str:
    """The folder a row's file goes to: its species (or group), else its category."""
    name = row.get("species") if row.get("category") == "animal" else ""
    name = name or row.get("category") or "unknown"
    cleaned = "".join("_" if c in UNSAFE or ord(c) < 32 else c for c in str(name)).strip(" .")
    return cleaned or "unknown"


def sort_files(rows: Sequence[dict], root: Path, into: Path, copy: bool = False) -> int:
    """Links (or copies) each file into its folder under ``into``; returns how many.

    Args:
        rows: the run's rows (``file`` relative to ``root``, ``category``, ``species``).
        root: the input folder.
        into: the folder to sort into (made when missing).
        copy: copy the files instead of linking them.
    """
    done = 0
    for row in rows:
        if row.get("error") or not row.get("file"):
            continue
        file = Path(str(row["file"]))
        source = (root / file).resolve()
        if not source.is_file():
            continue
        # a file outside the input folder keeps only its name
        target = into / folder_name(row) / (file.name if file.is_absolute() else file)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        if copy:
            shutil.copy2(source, target)
        else:
            os.symlink(source, target)
        done += 1
    return done
