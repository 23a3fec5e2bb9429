"""Wildlife outputs ecologists load: MegaDetector batch JSON, sorted folders, deployments and
time zones in the rows and Camtrap DP, one site's survey, summary and events that agree."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
from helpers.camtrapdp_schema import package_problems

from mmfuse.errors import UsageError
from mmfuse.tasks.wildlife import camtrapdp, events
from mmfuse.tasks.wildlife.deployments import Deployments, parse_zone, read_deployments
from mmfuse.tasks.wildlife.megadetector import batch_output, write_batch_output
from mmfuse.tasks.wildlife.sequence import camera_of
from mmfuse.tasks.wildlife.sorting import sort_files


def _row(i, category="animal", species="leopard cat", **extra):
    row = {
        "id": f"img{i}",
        "file": f"siteA/cam1/img{i}.jpg",
        "site": "siteA",
        "camera": "cam1",
        "deployment_id": "",
        "datetime": f"2024-05-01T06:00:{i:02d}",
        "category": category,
        "species": species if category == "animal" else "",
        "species_score": 0.8 if category == "animal" else None,
        "top_species": "leopard cat 0.80; moonrat 0.15; mouse deer 0.05"
        if category == "animal"
        else "",
        "count": 0 if category == "blank" else 1,
        "boxes": "" if category == "blank" else "0.1 0.2 0.3 0.4",
        "box_conf": "" if category == "blank" else "0.91",
        "event_id": "siteA/cam1#1",
        "error": "",
    }
    return {**row, **extra}


def validate_batch_output(document: dict) -> list[str]:
    """The checks of MegaDetector's ``validate_batch_results.py`` (format 1.3 and later), and
    the normalised boxes the format documents: the problems found."""
    problems = []
    for key in ("info", "images", "detection_categories"):
        if key not in document:
            problems.append(f"no {key}")
    info = document.get("info", {})
    if not isinstance(info, dict) or float(info.get("format_version", 0)) < 1.3:
        problems.append("format_version missing or below 1.3")
    for field in ("detection_categories", "classification_categories"):
        for key, name in document.get(field, {}).items():
            if not (isinstance(key, str) and key.isdigit() and isinstance(name, str)):
                problems.append(f"{field}: bad entry {key!r}: {name!r}")
    if not isinstance(document.get("images"), list):
        return [*problems, "images is not a list"]
    for image in document["images"]:
        if not isinstance(image, dict) or "file" not in image:
            problems.append(f"image without file: {image!r}")
            continue
        if image.get("failure") is not None:
            if not isinstance(image["failure"], str) or image.get("detections") is not None:
                problems.append(f"{image['file']}: failure with detections")
            continue
        if not isinstance(image.get("detections"), list):
            problems.append(f"{image['file']}: detections is not a list")
            continue
        for det in image["detections"]:
            if det.get("category") not in document["detection_categories"]:
                problems.append(f"{image['file']}: unmapped category {det.get('category')}")
            if not isinstance(det.get("conf"), float):
                problems.append(f"{image['file']}: conf is not a float")
            box = det.get("bbox")
            if not (isinstance(box, list) and len(box) == 4):
                problems.append(f"{image['file']}: bbox is not [x, y, w, h]")
            elif not (all(0 <= v <= 1 for v in box) and box[0] + box[2] <= 1.0001):
                problems.append(f"{image['file']}: bbox not normalised")
            for pair in det.get("classifications") or []:
                if pair[0] not in document.get("classification_categories", {}):
                    problems.append(f"{image['file']}: unknown classification {pair[0]}")
                if not isinstance(pair[1], float | int):
                    problems.append(f"{image['file']}: classification score not a number")
    return problems


def test_megadetector_batch_output_passes_the_format_validators_checks(tmp_path):
    rows = [
        _row(1),
        _row(2, category="blank"),
        _row(3, category="person", boxes="0.5 0.5 0.2 0.4", box_conf="0.62"),
        _row(4, error="cannot decode image", category=""),
        _row(5, file="siteA/cam1/clip.mp4"),  # videos are left out (no frame rate kept)
    ]
    names = ["leopard cat", "moonrat", "mouse deer", "cats"]
    path = write_batch_output(rows, names, "test", tmp_path / "megadetector.json")
    document = json.loads(path.read_text())
    assert validate_batch_output(document) == []
    assert document["info"]["format_version"] == "1.6"
    assert document["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    assert list(document["classification_categories"].values()) == names
    by_file = {i["file"]: i for i in document["images"]}
    assert set(by_file) == {f"siteA/cam1/img{i}.jpg" for i in (1, 2, 3, 4)}
    animal = by_file["siteA/cam1/img1.jpg"]["detections"][0]
    assert animal == {
        "category": "1",
        "conf": 0.91,
        "bbox": [0.1, 0.2, 0.3, 0.4],
        "classifications": [["0", 0.8], ["1", 0.15], ["2", 0.05]],
    }
    assert by_file["siteA/cam1/img2.jpg"]["detections"] == []
    assert by_file["siteA/cam1/img3.jpg"]["detections"][0]["category"] == "2"
    assert by_file["siteA/cam1/img4.jpg"]["failure"] == "cannot decode image"
    broken = batch_output([_row(1)], ["leopard cat"], "test")
    broken["images"][0]["detections"][0]["bbox"] = [10, 20, 300, 400]  # pixels: not the format
    assert validate_batch_output(broken) == ["siteA/cam1/img1.jpg: bbox not normalised"]


def test_sorting_links_or_copies_into_species_folders_and_never_moves_the_originals(tmp_path):
    survey = tmp_path / "survey"
    rows = [_row(1), _row(2, category="blank"), _row(3, category="person"), _row(4, error="x")]
    for row in rows:
        (survey / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        (survey / row["file"]).write_bytes(row["id"].encode())
    assert sort_files(rows, survey, tmp_path / "linked") == 3
    linked = tmp_path / "linked" / "leopard cat" / "siteA" / "cam1" / "img1.jpg"
    assert linked.is_symlink() and linked.read_bytes() == b"img1"
    assert (tmp_path / "linked" / "blank" / "siteA" / "cam1" / "img2.jpg").is_symlink()
    assert (tmp_path / "linked" / "person" / "siteA" / "cam1" / "img3.jpg").exists()
    assert not (tmp_path / "linked" / "animal").exists()  # the failed file is not sorted
    assert sort_files(rows, survey, tmp_path / "copied", copy=True) == 3
    copied = tmp_path / "copied" / "leopard cat" / "siteA" / "cam1" / "img1.jpg"
    assert copied.is_file() and not copied.is_symlink()
    assert all((survey / r["file"]).read_bytes() == r["id"].encode() for r in rows)


def test_summary_counts_the_events_that_events_csv_names():
    # one event: a leopard-cat file between two blanks; a second event: two blanks
    rows = [
        _row(1, category="blank"),
        _row(2),
        _row(3, category="blank"),
        _row(4, category="blank", event_id="siteA/cam1#2"),
        _row(5, category="blank", event_id="siteA/cam1#2"),
    ]
    table = events.event_rows(rows)
    named = {e["event_id"]: (e["category"], e["species"]) for e in table}
    assert named == {"siteA/cam1#1": ("animal", "leopard cat"), "siteA/cam1#2": ("blank", "")}
    summary = {s["species"]: s for s in events.summary_rows(rows) if s["site"] == "all"}
    assert summary["leopard cat"]["events"] == 1
    assert summary["blank"]["events"] == 1  # before: 2, the leopard cat's event counted again
    assert summary["blank"]["files"] == 4
    event = table[0]
    assert event["species_score"] == 0.8 and event["vote_share"] == 1.0


def test_a_run_on_one_sites_folder_keeps_the_site():
    site = Path("/data/savanna")
    assert camera_of(site / "cam01" / "IMG_1.JPG", site, False) == ("savanna", "cam01")
    assert camera_of(site / "cam01" / "100RECNX" / "IMG_1.JPG", site, False) == (
        "savanna",
        "cam01",
    )
    survey = Path("/data")
    assert camera_of(survey / "savanna" / "cam01" / "IMG_1.JPG", survey, False) == (
        "savanna",
        "cam01",
    )


DEPLOYMENTS = """deploymentID,folder,locationName,latitude,longitude,timezone,deploymentStart,\
deploymentEnd
d1,siteA/cam1,Pond north,51.05,3.72,Europe/Brussels,2024-04-01,2024-05-31
d2,siteA/cam1,Pond south,51.04,3.71,+01:00,2024-06-01,
d3,cam2,Ridge,-2.33,34.83,,,
"""


def test_deployments_give_location_coordinates_and_the_cameras_time_zone(tmp_path):
    path = tmp_path / "deployments.csv"
    path.write_text(DEPLOYMENTS)
    found = Deployments(read_deployments(path))
    spring = found.find("siteA", "cam1", datetime(2024, 5, 1, 6, 0))
    summer = found.find("siteA", "cam1", datetime(2024, 7, 1, 6, 0))
    assert (spring.location, summer.location) == ("Pond north", "Pond south")
    # the camera's clock read in its zone: summer time in Brussels is +02:00
    assert spring.localise(datetime(2024, 5, 1, 6, 0)).isoformat() == "2024-05-01T06:00:00+02:00"
    assert summer.localise(datetime(2024, 7, 1, 6, 0)).isoformat() == "2024-07-01T06:00:00+01:00"
    assert found.find("other", "cam2", datetime(2024, 1, 1)).location == "Ridge"
    assert found.find("siteA", "cam9", datetime(2024, 5, 1)) is None
    assert parse_zone("-05:30").utcoffset(None).total_seconds() == -(5 * 3600 + 1800)
    with pytest.raises(ValueError, match="time zone"):
        parse_zone("Mars/Olympus")
    path.write_text("deploymentID,latitude\ncam1,123\n")
    with pytest.raises(UsageError, match="line 2: latitude"):
        read_deployments(path)

    path.write_text(DEPLOYMENTS)
    rows = [
        _row(1, deployment_id="d1", datetime="2024-05-01T06:00:01+02:00"),
        _row(2, category="blank", deployment_id="d1", datetime="2024-05-01T06:00:02+02:00"),
    ]
    camtrapdp.write_package(rows, tmp_path / "siteA", tmp_path / "dp", read_deployments(path))
    with open(tmp_path / "dp" / "deployments.csv", encoding="utf-8", newline="") as stream:
        (deployment,) = list(csv.DictReader(stream))
    assert deployment["locationName"] == "Pond north"
    assert (deployment["deploymentID"], deployment["latitude"]) == ("d1", "51.05")
    assert deployment["deploymentStart"] == "2024-05-01T06:00:01+02:00"
    with open(tmp_path / "dp" / "media.csv", encoding="utf-8", newline="") as stream:
        assert next(csv.DictReader(stream))["timestamp"] == "2024-05-01T06:00:01+02:00"
    assert package_problems(tmp_path / "dp") == []  # (skips without the standard's schemas)


# -- the real pipeline ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.slow
def test_a_sites_survey_with_deployments_sorted_and_ready_for_timelapse(tmp_path):
    from helpers.wildlife import run_wildlife

    site = ROOT / "sample_data" / "wildlife" / "survey" / "savanna"
    deployments = tmp_path / "deployments.csv"
    deployments.write_text(
        "deploymentID,folder,locationName,latitude,longitude,timezone\n"
        "sav-1,savanna/cam01,Waterhole,-2.33,34.83,Africa/Nairobi\n"
    )
    out, into = tmp_path / "out", tmp_path / "sorted"
    species = "zebra: a horse with black and white stripes\ngiraffe\nlion\n"
    flags = ("--deployments", str(deployments), "--sort-into", str(into))
    rows = run_wildlife(site, out, species, *flags)
    assert {r["site"] for r in rows.values()} == {"savanna"}  # the run's folder is the site
    cam01 = [r for r in rows.values() if r["camera"] == "cam01"]
    assert cam01 and all(r["deployment_id"] == "sav-1" for r in cam01)
    assert all(r["datetime"].endswith("+03:00") for r in cam01)  # EXIF time read in Nairobi
    assert all(r["deployment_id"] == "" for r in rows.values() if r["camera"] != "cam01")
    document = json.loads((out / "megadetector.json").read_text())
    assert validate_batch_output(document) == []
    assert len(document["images"]) == len(rows)
    for row in rows.values():
        folder = row["species"] or row["category"]
        assert (into / folder / row["file"]).is_symlink()
    with open(out / "camtrap-dp" / "deployments.csv", encoding="utf-8", newline="") as stream:
        given = {d["deploymentID"]: d for d in csv.DictReader(stream)}
    assert given["sav-1"]["locationName"] == "Waterhole"
    assert package_problems(out / "camtrap-dp") == []


def _versus_label():
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "eval_wildlife", ROOT / "scripts" / "eval_wildlife.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.versus_label


@pytest.mark.integration
@pytest.mark.slow
def test_wildlife_names_species_at_least_as_well_as_label_with_the_same_names(
    shared_data, tmp_path
):
    """On every labelled image set: the files the wildlife task names right (a file it calls
    blank is wrong) against ``mmfuse label``'s top label with the same names, file for file;
    and every name it writes is one of the list's."""
    results = _versus_label()(shared_data, tmp_path)
    assert set(results) == {"borneo", "speciesnet", "camtrapdp", "squirrel"}
    for name, found in results.items():
        assert found["wildlife"] >= found["label"], (name, found)
        assert found["outside_list"] == [], (name, found)
