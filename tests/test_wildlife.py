"""Wildlife monitoring: the stages on synthetic media, and the real pipeline on shared data."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers.camtrapdp_schema import package_problems, schema
from helpers.wildlife import run_wildlife

from mmfuse.encoders.conse import imagenet_classes
from mmfuse.tasks.wildlife import camtrapdp, events, motion
from mmfuse.tasks.wildlife.boxes import crop, format_boxes, iou, parse_boxes
from mmfuse.tasks.wildlife.groups import category_mass, crop_mass, roll_up
from mmfuse.tasks.wildlife.locate import Locator, picture_rows
from mmfuse.tasks.wildlife.species import (
    few_shot_scores,
    leave_one_out_weight,
    parse_species,
)


def test_species_file_reads_names_descriptions_and_comments():
    species = parse_species(
        "zebra: a horse with black and white stripes\n# a comment\n\n  African   elephant \n"
    )
    assert [s.name for s in species] == ["zebra", "African elephant"]
    assert species[0].prompt == "zebra: a horse with black and white stripes"
    assert species[1].prompt == "African elephant"
    with pytest.raises(ValueError, match="twice"):
        parse_species("zebra\nZebra: striped")
    with pytest.raises(ValueError, match="empty"):
        parse_species("# nothing\n")


def _burst(n=6, size=(120, 160), seed=0):
    """Greyscale frames of a textured scene; a bright square walks left to right, a patch of
    'grass' flickers in every frame."""
    rng = np.random.default_rng(seed)
    scene = rng.integers(60, 120, size=size).astype(np.float32)
    frames = []
    for i in range(n):
        frame = scene + rng.normal(0, 2, size)
        frame[10:40, 110:150] += rng.normal(0, 40, (30, 40))  # vegetation: moves every frame
        x = 10 + 15 * i
        frame[70:90, x : x + 20] = 230  # the animal
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def test_motion_finds_the_moving_animal_not_the_flickering_grass():
    frames = _burst()
    found = motion.motion_boxes(frames, 3)
    assert found, "the moving square was not found"
    box = found[0][0]
    truth = (55 / 160, 70 / 120, 20 / 160, 20 / 120)
    assert iou(box, truth) > 0.6
    assert all(iou(b, (110 / 160, 10 / 120, 40 / 160, 30 / 120)) < 0.1 for b, _ in found)


def test_a_lighting_change_is_not_motion_and_one_frame_cannot_move():
    frames = _burst(n=4)
    frames[2] = np.clip(frames[2].astype(np.int16) * 2 + 40, 0, 255).astype(np.uint8)
    frames[2][:, :80] = 255 - frames[2][:, :80]  # half the scene changes: lighting, not an animal
    assert motion.moving_mask(frames, 2) is None
    assert motion.motion_boxes(frames[:1], 0) == []


def test_info_bars_are_cut_from_the_picture():
    rng = np.random.default_rng(1)
    image = rng.integers(60, 200, size=(200, 300, 3)).astype(np.uint8)
    image[:12] = 0
    image[3:9, 20:80] = 255  # the bar's text
    image[-15:] = 0
    assert picture_rows(image) == (12, 185)
    plain = rng.integers(60, 200, size=(200, 300, 3)).astype(np.uint8)
    assert picture_rows(plain) == (0, 200)


def _picture_rows_by_row(image: np.ndarray) -> tuple[int, int]:
    """``picture_rows`` as it was written before (reductions over the channel axis, row
    loops in Python): the reference the vectorised one must equal."""
    from mmfuse.tasks.wildlife import locate

    height = image.shape[0]
    step = locate.BAR_COLUMN_STEP
    grey = image[:, ::step].max(axis=2), image[:, ::step].min(axis=2)
    flat = (grey[0] <= locate.BAR_LEVELS[0]) | (grey[1] >= locate.BAR_LEVELS[1])
    bar_row = flat.mean(axis=1) >= locate.BAR_ROW_SHARE
    limit = int(height * locate.MAX_BAR_SHARE)
    top = 1 + max(r for r in range(limit) if bar_row[r]) if limit and bar_row[0] else 0
    tail = [r for r in range(height - limit, height) if bar_row[r]]
    bottom = min(tail) if limit and bar_row[-1] else height
    return (top, bottom) if bottom - top > height // 2 else (0, height)


def test_info_bars_found_as_row_by_row_on_varied_frames():
    rng = np.random.default_rng(7)
    for trial in range(60):
        height, width = int(rng.integers(5, 240)), int(rng.integers(1, 90))
        image = rng.integers(40, 215, size=(height, width, 3)).astype(np.uint8)
        for _ in range(int(rng.integers(0, 4))):  # bars, gaps, white and black, anywhere
            start = int(rng.integers(0, height))
            stop = min(height, start + int(rng.integers(1, 30)))
            image[start:stop] = rng.choice([0, 5, 250, 255])
            if trial % 3 == 0:
                image[start:stop, : width // 3] = 128  # text that leaves the row a bar or not
        if trial % 4 == 0:
            image[0], image[-1] = 0, 255
        assert picture_rows(image) == _picture_rows_by_row(image)


def test_boxes_round_trip_and_crops_keep_context():
    boxes = [(0.1, 0.2, 0.3, 0.4), (0.5, 0.5, 0.25, 0.125)]
    assert parse_boxes(format_boxes(boxes)) == boxes
    image = np.zeros((100, 200, 3), np.uint8)
    cropped = crop(image, (0.5, 0.5, 0.1, 0.2))
    assert cropped.shape[0] > 20 and cropped.shape[1] > 20  # margin and squaring added


def _probs_on(names):
    probs = np.full(1000, 1e-6, np.float32)
    for cls in imagenet_classes():
        if cls.name in names:
            probs[cls.index] = 1.0
    return probs / probs.sum()


def test_categories_and_roll_up_follow_wordnet():
    cats = _probs_on({"tabby", "tiger cat", "lynx", "cougar"})
    mass = category_mass(cats[None])[0]
    assert mass[0] > 0.99 and mass[1] < 0.01 and mass[2] < 0.01
    assert roll_up(cats, 0.6)[:2] == ("group", "cat")
    mixed = _probs_on({"tabby", "golden retriever", "ox"})
    assert roll_up(mixed, 0.6)[:2] == ("class", "mammal")
    assert category_mass(_probs_on({"pickup", "jeep"})[None])[0][2] > 0.99
    assert category_mass(_probs_on({"jean", "sweatshirt"})[None])[0][1] > 0.99


def _mixed(shares):
    """float32 [1000]: ``shares`` ({class name: probability}) and the rest on "valley"."""
    probs = np.zeros(1000, np.float32)
    for cls in imagenet_classes():
        probs[cls.index] = shares.get(cls.name, 0.0)
    probs[next(c.index for c in imagenet_classes() if c.name == "valley")] = 1 - probs.sum()
    return probs


class _CropClassifier:
    """An image encoder whose every crop gets the same ImageNet probabilities."""

    def __init__(self, probs):
        self.probs = probs

    def encode(self, images):
        from mmfuse.encoders.image import ImageFeatures

        n = len(images)
        return ImageFeatures(np.ones((n, 4), np.float32), np.tile(self.probs, (n, 1)), None)


def test_what_people_carry_or_ride_is_a_person_and_coats_are_not(tmp_path):
    """A person an ImageNet classifier cannot name shows as a little of what people carry or
    ride (chain saw, rifle, mountain bike): 0.15 of it in a crop is a person, 0.15 of the
    clothing that striped coats reach is not, and the scan's windows stay as they were."""
    import cv2

    from mmfuse.io.image import load_image

    carried = _mixed({"chain saw": 0.1, "mountain bike": 0.05})
    assert crop_mass(carried[None])[0][1] >= 0.5 > category_mass(carried[None])[0][1]
    coat = _mixed({"jersey": 0.15})
    assert crop_mass(coat[None])[0][1] == pytest.approx(category_mass(coat[None])[0][1])
    path = tmp_path / "trail.png"  # a lone photo: no motion, fixed tiles for a scan-less encoder
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(40, 200, (240, 320, 3), dtype=np.uint8))
    frame = load_image(path)
    for probs, expected in ((carried, {"person"}), (coat, set())):
        located = Locator(_CropClassifier(probs)).locate([frame], [frame[..., 0]], [None])
        assert {d.category for d in located.detections[0]} == expected


def test_few_shot_scores_follow_the_examples():
    prototypes = np.eye(3, 4, dtype=np.float32)
    feature = np.array([[0.1, 0.9, 0.1, 0.0]], np.float32)
    assert few_shot_scores(feature / np.linalg.norm(feature), prototypes).argmax() == 1


def test_leave_one_out_trusts_examples_only_when_they_name_better():
    rng = np.random.default_rng(0)
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    centres = np.eye(3, 16)
    features = centres[labels] + rng.normal(0, 0.05, (9, 16))
    features = (features / np.linalg.norm(features, axis=1, keepdims=True)).astype(np.float32)
    wrong = np.zeros((9, 3), np.float32)
    wrong[np.arange(9), [(c + 1) % 3 for c in labels]] = 1.0  # zero-shot: sure and wrong
    assert leave_one_out_weight(wrong, features, labels, 3) >= 0.75
    right = np.full((9, 3), 0.1, np.float32)
    right[np.arange(9), labels] = 0.8
    noise = rng.normal(size=(9, 16)).astype(np.float32)  # examples that say nothing
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    assert leave_one_out_weight(right, noise, labels, 3) <= 0.5


def _row(i, when, camera="cam1", category="animal", species="zebra", count=1):
    return {
        "id": f"img{i}",
        "file": f"site/{camera}/img{i}.jpg",
        "site": "site",
        "camera": camera,
        "datetime": when,
        "datetime_source": "exif",
        "category": category,
        "species": species if category == "animal" else "",
        "species_score": 0.8 if category == "animal" else None,
        "count": count if category != "blank" else 0,
        "boxes": "0.100 0.200 0.300 0.400" if category != "blank" else "",
        "event_id": "",
        "error": "",
    }


def test_events_vote_and_summary_counts_by_hour():
    rows = [
        {**_row(1, "2024-05-01T06:00:00", count=2), "event_id": "site/cam1#1"},
        {**_row(2, "2024-05-01T06:00:20", species="horse"), "event_id": "site/cam1#1"},
        {**_row(3, "2024-05-01T06:00:40"), "event_id": "site/cam1#1"},
        {**_row(4, "2024-05-01T21:00:00", category="blank"), "event_id": "site/cam1#2"},
        {**_row(5, "2024-05-01T06:00:00", camera="cam2"), "event_id": "site/cam2#1"},
        {**_row(6, "2024-05-01T06:00:00"), "error": "broken", "event_id": ""},
    ]
    table = events.event_rows(rows)
    first = next(e for e in table if e["event_id"] == "site/cam1#1")
    assert (first["species"], first["max_count"], first["n_files"]) == ("zebra", 2, 3)
    assert first["vote_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert first["species_score"] == pytest.approx(0.8)  # the zebra files' mean score
    assert next(e for e in table if e["event_id"] == "site/cam1#2")["category"] == "blank"
    summary = events.summary_rows(rows)
    zebra = next(s for s in summary if s["site"] == "all" and s["species"] == "zebra")
    assert (zebra["files"], zebra["events"], zebra["h06"], zebra["h21"]) == (3, 2, 3, 0)


def test_camtrap_dp_export_validates_and_errors_are_caught(tmp_path):
    rows = [
        {**_row(1, "2024-05-01T06:00:00"), "event_id": "site/cam1#1"},
        {**_row(2, "2024-05-01T06:00:20", category="person"), "event_id": "site/cam1#1"},
        {**_row(3, "2024-05-01T07:00:00", category="blank"), "event_id": "site/cam1#2"},
        {**_row(4, "2024-05-01T07:00:00"), "error": "cannot decode image"},
    ]
    paths = camtrapdp.write_package(rows, tmp_path / "survey", tmp_path / "dp")
    assert [p.name for p in paths] == [
        "deployments.csv",
        "media.csv",
        "observations.csv",
        "datapackage.json",
    ]
    with open(tmp_path / "dp" / "observations.csv", encoding="utf-8-sig", newline="") as stream:
        observations = list(csv.DictReader(stream))
    assert [o["observationType"] for o in observations] == ["animal", "human", "blank"]
    assert observations[0]["scientificName"] == "zebra" and observations[0]["bboxX"] == "0.1"
    assert package_problems(tmp_path / "dp") == []  # (skips without the standard's schemas)

    descriptor = json.loads((tmp_path / "dp" / "datapackage.json").read_text())
    del descriptor["project"]
    (tmp_path / "dp" / "datapackage.json").write_text(json.dumps(descriptor))
    media = (tmp_path / "dp" / "media.csv").read_text().replace(",false,", ",maybe,")
    (tmp_path / "dp" / "media.csv").write_text(media)
    problems = package_problems(tmp_path / "dp")
    assert any("project" in p for p in problems)
    assert any("filePublic not a boolean" in p for p in problems)


def test_camtrap_dp_columns_are_the_standards_fields_in_its_order():
    for table in camtrapdp.TABLES:
        fields = [f["name"] for f in schema(f"{table}-table-schema")["fields"]]
        assert camtrapdp.FIELDS[table] == tuple(fields)


# -- the real pipeline on the development data ------------------------------------------------


def _yolo_boxes(label: Path) -> list[tuple[float, float, float, float]]:
    boxes = []
    for line in label.read_text().splitlines():
        parts = [float(v) for v in line.split()[1:]]
        if len(parts) == 4:
            cx, cy, w, h = parts
            boxes.append((cx - w / 2, cy - h / 2, w, h))
    return boxes


@pytest.mark.integration
@pytest.mark.slow
def test_squirrel_burst_is_one_event_named_squirrel_with_boxes_on_the_labels(shared_data, tmp_path):
    folder = shared_data / "images" / "squirrel_sequence" / "data_example"
    out = tmp_path / "out"
    species = "squirrel\nchipmunk\nrabbit\nraccoon\nbird\n"
    rows = list(run_wildlife(folder / "images", out, species, "--cameras", "input").values())
    assert len(rows) == 14 and {r["event_id"] for r in rows} == {"images#1"}
    assert sum(r["species"] == "squirrel" for r in rows) >= 12
    ious = []
    for row in rows:
        label = folder / "labels" / (row["file"].removesuffix(".jpg") + ".txt")
        found = parse_boxes(row["boxes"])
        ious += [max([iou(t, b) for b in found] or [0.0]) for t in _yolo_boxes(label)]
    assert np.mean(ious) >= 0.5, ious
    assert package_problems(out / "camtrap-dp") == []


@pytest.mark.integration
@pytest.mark.slow
def test_speciesnet_person_far_in_a_forest_is_a_person_and_no_animal_is(shared_data, tmp_path):
    from mmfuse import cli

    out = tmp_path / "out"
    folder = shared_data / "images" / "speciesnet"
    code = cli.main(["run", "wildlife", str(folder), "-o", str(out), "--no-progress", "-q"])
    assert code == 1  # the truncated elephant is an error row
    with open(out / "results.csv", encoding="utf-8-sig", newline="") as stream:
        rows = {r["id"]: r for r in csv.DictReader(stream)}
    assert rows["human"]["category"] == "person"
    others = [r for i, r in rows.items() if i != "human" and not r["error"]]
    assert len(others) == 12
    assert not [r["id"] for r in others if r["category"] == "person" or "person" in r["notes"]]


@pytest.mark.integration
@pytest.mark.slow
def test_sample_survey_zebras_blanks_events_and_a_zebra_found_by_its_description(tmp_path):
    sample = Path(__file__).resolve().parents[1] / "sample_data" / "wildlife"
    species = "punda milia: a horse with black and white stripes\ngiraffe\nlion\n"  # described
    out = tmp_path / "out"  # (the text model does not know the Swahili name)
    rows = run_wildlife(sample / "survey", out, species)
    blanks = [f"savanna/cam01/IMG_{i:04d}" for i in (5, 6, 7)]
    assert all(rows[b]["category"] == "blank" for b in blanks)
    animals = [r for r in rows.values() if r["id"] not in blanks]
    assert sum(r["top_species"].startswith("punda milia ") for r in animals) >= 5  # ranked first
    assert all(r["datetime_source"] == "exif" for r in rows.values())
    with open(out / "events.csv", encoding="utf-8-sig", newline="") as stream:
        events = list(csv.DictReader(stream))
    assert [e["n_files"] for e in events] == ["4", "3", "1", "1"]
    assert package_problems(out / "camtrap-dp") == []


def test_files_that_are_not_survey_media_are_left_out_not_failed(tmp_path, caplog):
    """A species list, notes or a spreadsheet in the folder is no failed photo: it is left
    out with a warning; a sound file stays (it gets its own row)."""
    from mmfuse.io.discover import discover
    from mmfuse.tasks.wildlife.task import WildlifeTask

    for name in ("IMG_0001.JPG", "IMG_0002.JPG", "dawn.wav", "species.txt", "notes.md", "log.csv"):
        (tmp_path / name).write_bytes(b"x")
    items = discover(tmp_path)
    kept = WildlifeTask(None, items).run_items(items)
    assert sorted(i.id for i in kept) == ["IMG_0001", "IMG_0002", "dawn"]
    (record,) = [r for r in caplog.records if "left out" in r.getMessage()]
    assert record.getMessage().startswith(
        "2 files in the input are not"
    )  # discovery skips the .csv already


def test_a_folder_with_no_survey_media_is_a_usage_error(tmp_path, capsys):
    """Issue 24 #5: a folder holding only notes and a spreadsheet exited 0 with "0 items" and
    wrote an empty report; it is exit 2, with nothing written."""
    from mmfuse import cli

    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "notes.md").write_text("# notes\n")
    (tmp_path / "survey" / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    out = tmp_path / "out"
    assert cli.main(["run", "wildlife", str(tmp_path / "survey"), "-o", str(out)]) == 2
    assert "no media files that wildlife reads" in capsys.readouterr().err
    assert not (out / "report.html").exists()


def test_a_photo_and_a_video_sharing_a_stem_are_two_items_that_both_decode(tmp_path):
    """IMG_0002.JPG and IMG_0002.MP4 in one camera folder are two shots: two rows, neither
    failed, their ids keeping the extension; the other files keep their stem ids."""
    from helpers.media import write_image, write_video

    from mmfuse.commands.arguments import items_from_args
    from mmfuse.commands.run import add_arguments
    from mmfuse.tasks.wildlife.task import WildlifeTask

    camera = tmp_path / "survey" / "cam1"
    write_image(camera / "IMG_0001.JPG", seed=1, fmt="JPEG")
    write_image(camera / "IMG_0002.JPG", seed=2, fmt="JPEG")
    write_video(camera / "IMG_0002.MP4", audio=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["wildlife", str(tmp_path / "survey"), "-o", str(tmp_path / "out")])
    items = items_from_args(args, WildlifeTask.group_by)
    task = WildlifeTask(None, items)
    kept = task.run_items(items)
    assert [i.id for i in kept] == ["cam1/IMG_0001", "cam1/IMG_0002.JPG", "cam1/IMG_0002.MP4"]
    assert [len(i.paths) for i in kept] == [1, 1, 1]
    for item in kept:
        assert task.decode(item) is not None  # no "not a camera-trap photo or video"


def test_a_single_site_survey_keeps_its_site_and_paths_relative_to_the_input(tmp_path):
    """``survey/savanna/cam01/...`` with one site folder: the site is "savanna", the camera
    "cam01", and the files (and so the Camtrap DP media paths) are relative to ``survey/``."""
    from helpers.media import write_image

    from mmfuse.io.discover import discover
    from mmfuse.tasks.wildlife.task import WildlifeTask

    survey = tmp_path / "survey"
    for n, camera in enumerate(("cam01", "cam01", "cam02")):
        write_image(survey / "savanna" / camera / f"IMG_000{n}.JPG", seed=n, fmt="JPEG")
    items = discover(survey, group_by=WildlifeTask.group_by)
    task = WildlifeTask(None, items)
    assert task.root == survey  # the `file` column and Camtrap DP paths are relative to it
    places = [task.cameras.place(p) for item in items for p in item.paths]
    assert [(p.site, p.camera) for p in places] == [
        ("savanna", "cam01"),
        ("savanna", "cam01"),
        ("savanna", "cam02"),
    ]


def test_an_exif_date_in_the_future_or_before_1990_is_not_trusted_and_noted(tmp_path):
    """EXIF 2099 or 1985 is a mis-set clock: the file time is the datetime, and the row's notes
    say why; a plausible EXIF date stands, with no note."""
    import os

    from PIL import Image

    from mmfuse.io.discover import discover
    from mmfuse.tasks.wildlife.sequence import DATETIME_ORIGINAL, EXIF_IFD, file_stamp
    from mmfuse.tasks.wildlife.task import Decoded, WildlifeTask

    camera = tmp_path / "cam1"
    camera.mkdir()
    for name, date in (("future", "2099:01:01 12:00:00"), ("old", "1985:06:01 08:00:00")):
        exif = Image.Exif()
        exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = date
        Image.new("RGB", (32, 24)).save(camera / f"{name}.jpg", exif=exif)
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = "2021:03:04 05:06:07"
    Image.new("RGB", (32, 24)).save(camera / "good.jpg", exif=exif)
    for path in camera.iterdir():
        os.utime(path, (1_600_000_000, 1_600_000_000))
    stamps = {p.stem: file_stamp(p) for p in camera.iterdir()}
    assert (stamps["good"].source, stamps["good"].note) == ("exif", "")
    assert stamps["good"].time.year == 2021
    for name, why in (("future", "2099-01-01 12:00:00 is in the future"), ("old", "before 1990")):
        stamp = stamps[name]
        assert stamp.source == "file time" and stamp.time.year == 2020
        assert "not trusted: file time used" in stamp.note and why in stamp.note
    items = discover(camera, group_by=WildlifeTask.group_by)
    task = WildlifeTask(None, items)
    task._found = lambda media, row, prepared=None: {**row, "category": "blank", "notes": "seen"}
    (future,) = [i for i in items if i.id == "future"]
    row = task._row(future, Decoded(None, task.cameras.place(future.paths[0])))
    assert row["datetime_source"] == "file time"
    assert row["notes"].startswith("exif date 2099-01-01 12:00:00 is in the future")
    assert row["notes"].endswith("; seen")


@pytest.mark.parametrize("flags, shown", [(["-q"], False), ([], False), (["-v"], True)])
def test_opencv_warnings_on_a_truncated_video_stay_off_stderr_unless_verbose(
    tmp_path, capfd, monkeypatch, flags, shown
):
    """OpenCV is imported with the task's modules, before logging is set up: its own
    ``[ WARN ] cap.cpp`` on a truncated MP4 still stays off stderr (the error cell says it),
    by default and with -q; -v (after the sub-command) shows it."""
    import cv2
    from helpers.media import write_video

    from mmfuse import cli

    full = write_video(tmp_path / "full.mp4", frames=24, audio=False).read_bytes()
    camera = tmp_path / "survey" / "cam1"
    camera.mkdir(parents=True)
    (camera / "IMG_0001.MP4").write_bytes(full[: len(full) // 2])
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_WARNING)  # as when just imported
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)  # (a previous run set it)
    monkeypatch.setenv("MMFUSE_CACHE", str(tmp_path / "cache"))  # the video is opened
    argv = ["run", "wildlife", str(tmp_path / "survey"), "-o", str(tmp_path / "out")]
    assert cli.main([*argv, "--no-progress", *flags]) == 1  # the truncated video's error row
    err = capfd.readouterr().err
    assert "1 of 1 items failed" in err
    assert ("cap.cpp" in err) is shown
