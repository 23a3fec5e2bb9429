"""MegaDetector's batch-output JSON, the file Timelapse and AddaxAI read to review a run.

The format (``megadetector-output-format.md`` in the MegaDetector repository, version 1.6)::

    {"info": {"format_version": "1.6", "detector": ..., "classifier": ...},
     "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
     "classification_categories": {"0": "leopard cat", ...},
     "images": [{"file": "site/cam/IMG_0001.JPG",
                 "detections": [{"category": "1", "conf": 0.91,
                                 "bbox": [x_min, y_min, width, height],   # normalised
                                 "classifications": [["0", 0.83], ["3", 0.09]]}]},
                {"file": "...", "failure": "cannot decode image", "detections": null}]}

One entry per photo (a blank has an empty ``detections`` list); ``conf`` is the detection's
mass on its category (``locate``), the classifications the file's species with their scores.
Videos are left out: the format wants their frame rate and each detection's frame number,
which the rows do not keep.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mmfuse import __version__
from mmfuse.io.writers import atomic_write
from mmfuse.tasks.wildlife.boxes import parse_boxes
from mmfuse.types import media_kind

FORMAT_VERSION = "1.6"
# MegaDetector's own category ids, which Timelapse and AddaxAI expect.
DETECTION_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
CATEGORY_IDS = {name: key for key, name in DETECTION_CATEGORIES.items()}
DECIMALS = 4


def parse_top(text: str) -> list[tuple[str, float]]:
    """(name, score) pairs of a ``top_species`` cell ("leopard cat 0.81; moonrat 0.10")."""
    pairs = []
    for part in str(text or "").split(";"):
        name, _, score = part.strip().rpartition(" ")
        if name:
            try:
                pairs.append((name, float(score)))
            except ValueError:
                continue
    return pairs


def _scores(text: str) -> list[float]:
    return [float(v) for v in str(text or "").split(";") if v.strip()]


def _image(row: dict, class_ids: dict[str, str]) -> dict:
    """One ``images`` entry of a row."""
    if row.get("error"):
        return {"file": str(row["file"]), "failure": str(row["error"]), "detections": None}
    category = row.get("category")
    detections = []
    if category in CATEGORY_IDS:
        boxes = parse_boxes(row.get("boxes") or "")
        confs = _scores(row.get("box_conf"))
        classifications = [
            [class_ids[name], round(score, DECIMALS)]
            for name, score in parse_top(row.get("top_species"))
            if name in class_ids
        ]
        for i, box in enumerate(boxes):
            conf = confs[i] if i < len(confs) else 0.0
            detection = {
                "category": CATEGORY_IDS[category],
                "conf": round(float(conf), DECIMALS),
                "bbox": [round(float(v), DECIMALS) for v in box],
            }
            if category == "animal" and classifications:
                detection["classifications"] = classifications
            detections.append(detection)
    return {"file": str(row["file"]), "detections": detections}


def batch_output(rows: Sequence[dict], names: Sequence[str], classifier: str) -> dict:
    """The batch-output document of a run's rows.

    Args:
        rows: the run's rows (``file``, ``category``, ``boxes``, ``box_conf``,
            ``top_species``, ``error``).
        names: the classification categories, in order (the species list, its groups).
        classifier: what named the species (written to ``info``).
    """
    seen = list(names)
    for row in rows:  # names not in the list: a run without one names ImageNet classes
        seen += [n for n, _ in parse_top(row.get("top_species")) if n not in seen]
    class_ids = {name: str(i) for i, name in enumerate(seen)}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "info": {
            "format_version": FORMAT_VERSION,
            "detector": f"mmfuse {__version__} motion and scan locator",
            "detection_completion_time": now,
            "classifier": classifier,
            "classification_completion_time": now,
        },
        "detection_categories": dict(DETECTION_CATEGORIES),
        "classification_categories": {i: name for name, i in class_ids.items()},
        "images": [
            _image(row, class_ids)
            for row in rows
            if media_kind(Path(str(row.get("file", "")))) == "image"
        ],
    }


def write_batch_output(rows: Sequence[dict], names: Sequence[str], classifier: str, path: Path):
    """Writes ``batch_output`` as JSON; returns the path."""
    with atomic_write(path) as stream:
        json.dump(batch_output(rows, names, classifier), stream, indent=1)
    return path
