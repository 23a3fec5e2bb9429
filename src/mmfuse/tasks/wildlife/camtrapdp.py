"""Camtrap DP 1.0.2 export: deployments, media, observations and datapackage.json.

One deployment per camera (site/camera), one media row per analysed file, one media-level
observation per file (blank, animal, human, vehicle) plus, for its detections, the first box
(``bbox*``); ``classificationMethod`` is "machine". ``--deployments`` gives each camera's
location name, coordinates and time zone (times then carry the zone's offset). What mmfuse
cannot know is written explicitly and said in ``deploymentComments``: coordinates not given
(0, 0; set them before publishing), no time zone (camera clocks carry none: +00:00) and that
``scientificName`` holds the name given in the species list.

The tables' columns are the standard's fields in its order (``FIELDS``); the package names
the standard's profile and table schemas by their URLs. The tests validate the packages
against those schemas (``tests/helpers/camtrapdp_schema.py``).
"""

from __future__ import annotations

import csv
import mimetypes
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from mmfuse import __version__, config
from mmfuse.io.writers import atomic_write, write_json
from mmfuse.tasks.wildlife.boxes import parse_boxes

VERSION = "1.0.2"
SCHEMA_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{{}}.json"
TABLES = ("deployments", "media", "observations")
# The columns of each table: the fields of its Camtrap DP 1.0.2 table schema, in order.
FIELDS = {
    "deployments": (
        "deploymentID", "locationID", "locationName", "latitude", "longitude",
        "coordinateUncertainty", "deploymentStart", "deploymentEnd", "setupBy", "cameraID",
        "cameraModel", "cameraDelay", "cameraHeight", "cameraDepth", "cameraTilt", "cameraHeading",
        "detectionDistance", "timestampIssues", "baitUse", "featureType", "habitat",
        "deploymentGroups", "deploymentTags", "deploymentComments",
    ),
    "media": (
        "mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic",
        "fileName", "fileMediatype", "exifData", "favorite", "mediaComments",
    ),
    "observations": (
        "observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd",
        "observationLevel", "observationType", "cameraSetupType", "scientificName", "count",
        "lifeStage", "sex", "behavior", "individualID", "individualPositionRadius",
        "individualPositionAngle", "individualSpeed", "bboxX", "bboxY", "bboxWidth", "bboxHeight",
        "classificationMethod", "classifiedBy", "classificationTimestamp",
        "classificationProbability", "observationTags", "observationComments",
    ),
}  # fmt: skip
OBSERVATION_TYPES = {"animal": "animal", "person": "human", "vehicle": "vehicle", "blank": "blank"}


# What the export says when the run was given no deployments (``--deployments``).
UNKNOWN_DEPLOYMENT = (
    "written by mmfuse: latitude and longitude unknown (0, 0: set them, or give "
    "--deployments); camera clock time written as +00:00"
)


def _timestamp(text: str) -> str:
    """A row's time as Camtrap DP wants it: with its offset (+00:00 when it has none)."""
    if not text:
        return ""
    return text if re.search(r"[+-]\d\d:\d\d$|Z$", text) else f"{text}+00:00"


def _deployment(row: dict, known: dict) -> dict:
    """A deployments.csv row for a file's camera, from ``--deployments`` when it names it."""
    given = known.get(row.get("deployment_id") or "")
    if given is None:
        return {
            "deploymentID": "/".join(filter(None, (row["site"], row["camera"]))) or "camera",
            "locationID": row["site"] or row["camera"],
            "locationName": row["site"] or row["camera"],
            "latitude": 0,
            "longitude": 0,
            "cameraID": row["camera"],
            "deploymentComments": UNKNOWN_DEPLOYMENT,
        }
    location = given.location or row["site"] or row["camera"]
    return {
        "deploymentID": given.id,
        "locationID": location,
        "locationName": location,
        "latitude": given.latitude if given.latitude is not None else 0,
        "longitude": given.longitude if given.longitude is not None else 0,
        "cameraID": row["camera"],
        "deploymentComments": "written by mmfuse from --deployments"
        + ("" if given.latitude is not None else "; latitude and longitude unknown (0, 0)"),
    }


def _tables(rows: Sequence[dict], deployments_given: Sequence = ()) -> dict[str, list[dict]]:
    ok = [r for r in rows if not r.get("error") and r.get("datetime")]
    known = {d.id: d for d in deployments_given}
    deployments: dict[str, dict] = {}
    media, observations = [], []
    for row in ok:
        described = _deployment(row, known)
        deployment = described["deploymentID"]
        entry = deployments.setdefault(
            deployment,
            {
                **described,
                "deploymentStart": _timestamp(row["datetime"]),
                "deploymentEnd": _timestamp(row["datetime"]),
            },
        )
        stamp = _timestamp(row["datetime"])
        entry["deploymentStart"] = min(entry["deploymentStart"], stamp)
        entry["deploymentEnd"] = max(entry["deploymentEnd"], stamp)
        file_path = str(row["file"]).replace("\\", "/")
        media.append(
            {
                "mediaID": row["id"],
                "deploymentID": deployment,
                "captureMethod": "activityDetection",
                "timestamp": stamp,
                "filePath": file_path,
                "filePublic": "false",
                "fileName": Path(file_path).name,
                "fileMediatype": mimetypes.guess_type(file_path)[0] or "image/jpeg",
            }
        )
        kind = OBSERVATION_TYPES.get(row.get("category", ""), "unknown")
        box = (parse_boxes(row.get("boxes") or "") or [None])[0]
        observations.append(
            {
                "observationID": f"{row['id']}#1",
                "deploymentID": deployment,
                "mediaID": row["id"],
                "eventID": row.get("event_id", ""),
                "eventStart": stamp,
                "eventEnd": stamp,
                "observationLevel": "media",
                "observationType": kind,
                "scientificName": row.get("species", "") if kind == "animal" else "",
                "count": row.get("count") if kind in ("animal", "human", "vehicle") else "",
                "bboxX": box[0] if box else "",
                "bboxY": box[1] if box else "",
                "bboxWidth": box[2] if box else "",
                "bboxHeight": box[3] if box else "",
                "classificationMethod": "machine",
                "classifiedBy": f"mmfuse {__version__}",
                "classificationProbability": row.get("species_score") or "",
            }
        )
    return {"deployments": list(deployments.values()), "media": media, "observations": observations}


def _descriptor(tables: dict[str, list[dict]], root: Path) -> dict:
    stamps = [m["timestamp"][:10] for m in tables["media"]] or [
        datetime.now(UTC).date().isoformat()
    ]
    names = sorted({o["scientificName"] for o in tables["observations"] if o["scientificName"]})
    return {
        "name": re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()) or "camera-traps",
        "profile": SCHEMA_URL.format("camtrap-dp-profile"),
        "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "title": f"Camera-trap observations of {root.name}, classified by mmfuse",
        "contributors": [{"title": "mmfuse (machine classification)", "role": "contributor"}],
        "project": {
            "title": root.name,
            "samplingDesign": "opportunistic",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media"],
        },
        "spatial": {"type": "Point", "coordinates": [0, 0]},
        "temporal": {"start": min(stamps), "end": max(stamps)},
        "taxonomic": [{"scientificName": name} for name in names],
        "resources": [
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": SCHEMA_URL.format(f"{table}-table-schema"),
            }
            for table in TABLES
        ],
    }


def write_package(
    rows: Sequence[dict], root: Path, folder: Path, deployments: Sequence = ()
) -> list[Path]:
    """Writes the four files of a Camtrap DP package into ``folder``; returns their paths.

    Args:
        rows: the run's rows.
        root: the input folder (names the package).
        folder: where to write.
        deployments: the ``deployments.Deployment`` records of ``--deployments`` (location,
            coordinates; rows name theirs in ``deployment_id``).
    """
    config.make_dir(folder)
    tables = _tables(rows, deployments)
    paths = []
    for table in TABLES:
        path = folder / f"{table}.csv"
        with atomic_write(path, encoding="utf-8") as stream:  # a data standard: no BOM
            writer = csv.DictWriter(stream, FIELDS[table], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(tables[table])
        paths.append(path)
    write_json(_descriptor(tables, root), folder / "datapackage.json")
    return [*paths, folder / "datapackage.json"]
