"""Wildlife monitoring: find the animal, then name it — species, blanks, events, counts, Camtrap DP.

One row per camera-trap photo or video. Each frame is located first (motion against the rest
of its burst or video, and a scan of the frame by animal, person and vehicle probability mass;
``locate``), the best regions are cropped and classified, and the animal crops are named from
the species list (``naming``). Files of one camera within ``--event-gap`` seconds form an
event; ``finish`` writes ``events.csv``, ``summary.csv`` and a Camtrap DP package.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse import __version__, registry
from mmfuse.cache import file_digest, folder_digest
from mmfuse.encoders.sound import MODEL_ID as SOUND_MODEL
from mmfuse.encoders.sound import available as sound_available
from mmfuse.errors import InputError, UsageError
from mmfuse.tasks.base import Task
from mmfuse.tasks.media import check_every, every_option
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.tasks.samples import png_bytes
from mmfuse.tasks.wildlife.boxes import format_boxes
from mmfuse.tasks.wildlife.head import CROP_FEATURES, crop_features
from mmfuse.tasks.wildlife.locate import DEFAULT_THRESHOLDS, Detection, Prepared
from mmfuse.tasks.wildlife.naming import SPECIES_SCORES
from mmfuse.tasks.wildlife.reading import FileMedia, read_photo, read_video
from mmfuse.tasks.wildlife.sequence import Cameras, Placement, input_folder
from mmfuse.tasks.wildlife.sound import Listener, SoundMedia, read_sound
from mmfuse.tasks.wildlife.species import Group, Species, read_species
from mmfuse.types import Item, media_kind

log = logging.getLogger(__name__)
# Files a camera-trap or acoustic survey is made of; others in the folder (species lists,
# notes) are left out of the run, not reported as failures.
SURVEY_KINDS = ("image", "video", "audio")

# The crop classifier: EfficientNet-Lite2 tells blank crops from animals far better than Lite0
# (crop animal mass of blanks at most 0.56 against 0.74 for animals, on the speciesnet test
# images; Lite0: 0.88 against 0.82) at about three times the cost per crop.
DEFAULT_CROP_MODEL = "timm:tf_efficientnet_lite2"
# The scanner: the default image model's feature map (one 320 px pass per frame).
SCAN_MODEL = "timm:tf_efficientnet_lite0"
# A file's count: its category's detections whose mass is within this factor of the best one
# (weaker ones are mostly the same animal seen by a second window).
COUNT_MASS_FACTOR = 0.9
DECIMALS = 4
# MegaDetector's batch-output JSON, for review in Timelapse or AddaxAI.
MEGADETECTOR_JSON = "megadetector.json"


@dataclass(frozen=True)
class WildlifeOptions:
    """What the wildlife analysis computes (everything here keys the cache)."""

    species: Path | None = option(
        None,
        "species file: one a line, 'name: description' (default: ImageNet's animal classes)",
    )
    examples: Path | None = option(
        None, "few-shot examples, DIR/<species>/<images>, blended with the zero-shot scores"
    )
    image_model: str = option(DEFAULT_CROP_MODEL, "classifier of the crops (backend:name)")
    threshold: float = option(
        DEFAULT_THRESHOLDS[0],
        "animal mass a still crop needs to count (people and vehicles scale with it; motion "
        "needs 0.6 of it); lower finds more animals and more false ones",
    )
    species_threshold: float = option(
        0.5,
        "species score under which a name is noted as unsure (and, with --rollup, named by "
        "its group)",
        changes_no_row="rows carry the raw scores; complete names them",
    )
    rollup: bool = option(
        False,
        "name an unsure file by the species list's group ('# group NAME: member, member') "
        "holding --species-threshold of its score (without a list: cat, bird, mammal)",
        changes_no_row="rows carry the raw scores; complete names them",
    )
    event_gap: float = option(60.0, "longest pause, in seconds, between files of one event")
    cameras: str = option(
        "folder",
        "what a camera is: the folder of each file (site/camera/file), or the whole input",
        choices=("folder", "input"),
    )
    # every second, not EVERY_S: a camera-trap clip lasts seconds and an animal may cross in one
    every_s: float = every_option(1.0)
    max_frames: int = option(16, "frames analysed per video at most (spread over the clip)")
    model: Path | None = option(
        None,
        "a species head trained by `mmfuse train` on labelled files of a wildlife run: names "
        "the crops with its species instead of the zero-shot ones",
    )
    sound_threshold: float = option(
        0.25, "BirdNET score a 3-s window of a sound file needs (optional extra mmfuse[sound])"
    )
    max_sound_s: float = option(600.0, "seconds of each sound file analysed at most")
    deployments: Path | None = option(
        None,
        "deployments.csv: deploymentID, folder (the camera's, site/camera), locationName, "
        "latitude, longitude, timezone, deploymentStart, deploymentEnd; feeds the rows and "
        "Camtrap DP",
    )
    sort_into: Path | None = option(
        None,
        "sort the files into DIR/<species>, blank, person, vehicle (links; originals never move)",
        changes_no_row="only where finish links or copies the files",
    )
    copy: bool = option(
        False,
        "with --sort-into: copy the files instead of linking them",
        changes_no_row="only how finish sorts the files",
    )

    def __post_init__(self):
        if self.species is not None and not self.species.is_file():
            raise UsageError(f"species file not found: {self.species}")
        if self.examples is not None and not self.examples.is_dir():
            raise UsageError(f"examples folder not found: {self.examples}")
        if self.model is not None and not self.model.is_dir():
            raise UsageError(f"--model {self.model}: not a folder")
        if self.deployments is not None and not self.deployments.is_file():
            raise UsageError(f"deployments file not found: {self.deployments}")
        if self.model is not None and self.examples is not None:
            raise UsageError("give --model (many-shot) or --examples (few-shot), not both")
        for name in ("threshold", "species_threshold"):
            if not 0 < getattr(self, name) <= 1:
                raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1]")
        if not 0 < self.sound_threshold <= 1 or self.max_sound_s <= 0:
            raise UsageError("--sound-threshold must be in (0, 1], --max-sound-s > 0")
        check_every(self.every_s)
        if self.event_gap < 0 or self.max_frames < 1:
            raise UsageError("--event-gap must be >= 0, --max-frames >= 1")


@dataclass
class Decoded:
    """A file read from disk, with where it sits among its camera's files, and for a photo
    what locating it needs before the models (``Locator.prepare``; None: made in ``process``)."""

    media: FileMedia | SoundMedia
    placement: Placement
    prepared: list[Prepared] | None = None


def _inputs_digest(items: Sequence[Item]) -> str:
    """Names, sizes and times of every input file: a file's burst and event depend on the
    others, so a changed folder must not be served from the cache."""
    digest = hashlib.sha256()
    for item in items:
        for path in item.paths:
            try:
                info = path.stat()
                digest.update(f"{path}|{info.st_size}|{info.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()[:16]


def survey_items(items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """The items that hold a photo, a video or a sound file (or an error to report), and the
    others (``species.txt``, notes), which a survey run leaves out."""
    kept, left = [], []
    for item in items:
        survey = item.error or any(media_kind(p) in SURVEY_KINDS for p in item.paths)
        (kept if survey else left).append(item)
    return kept, left


@register_task("wildlife")
class WildlifeTask(Task):
    """The wildlife pipeline as an engine task (see the module docstring)."""

    description = """Wildlife monitoring of camera-trap photos and videos (and sound files with the
optional BirdNET extra): find the animal, name it from your species list, flag blanks, people
and vehicles, group files into events, count, and export Camtrap DP.

Input: a survey folder laid out site/camera/files (--cameras input: the whole input is one
camera); SPECIES is a text file, one species a line, with an optional description after a
colon ("zebra: a horse with black and white stripes").

Read first in results.csv (one row per file): category, species, count. events.csv: one
row per event; summary.csv: counts per species, site, camera and hour; camtrap-dp/."""
    examples = (
        "mmfuse run wildlife survey/ --species species.txt -o out/survey",
        "mmfuse run wildlife survey/ --species species.txt -o out/survey --examples examples/",
        "mmfuse run wildlife new_survey/ -o out/new --model my-species-head",
    )

    Options = WildlifeOptions
    trains = "head"  # a species head on a finished run's crops (``training``)

    @classmethod
    def example_input(cls) -> tuple[str, bytes]:
        return "good.png", png_bytes()

    @classmethod
    def example_model(cls, folder: Path) -> Path:
        """An untrained species head saved in ``folder``."""
        import numpy as np

        from mmfuse.fusion.model import save_model
        from mmfuse.tasks.wildlife.head import build_head

        crops = np.eye(4, 8, dtype=np.float32)
        save_model(build_head(["zebra", "giraffe"], crops, np.array([0, 0, 1, 1]), {}), folder)
        return folder

    @classmethod
    def fit_head(cls, results, manifest, labels, options, positive=None):
        from mmfuse.tasks.wildlife.training import fit_from_run

        return fit_from_run(results, manifest, labels, options, positive)

    default_batch_size = 8
    max_device_batch = 64  # decoded photos and video frames wait in host memory
    group_by = "file"  # every photo, video and sound is its own row, IMG_0002.JPG beside .MP4
    columns = (
        "id",
        "file",
        "site",
        "camera",
        "deployment_id",
        "datetime",
        "datetime_source",
        "category",
        "species",
        "species_score",
        "top_species",
        "prediction_level",
        "count",
        "boxes",
        "box_conf",
        "event_id",
        "notes",
        "error",
    )

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        super().__init__(options, items, device)
        items, _ = survey_items(items)
        self.species: list[Species] | None = None
        self.groups: list[Group] = []
        if self.options.species is not None:
            try:
                self.species, self.groups = read_species(self.options.species)
            except (ValueError, UnicodeDecodeError) as error:
                raise UsageError(f"species file {self.options.species}: {error}") from None
        if self.options.model is not None:
            self.species = self._head_species()
        paths = [p for item in items for p in item.paths]
        self.root = input_folder(items)
        self.cameras = Cameras(
            paths, self.root, self.options.cameras == "input", self.options.event_gap
        )
        self.digest = _inputs_digest(items)
        self.deployments = None
        if self.options.deployments is not None:
            from mmfuse.tasks.wildlife.deployments import Deployments, read_deployments

            self.deployments = Deployments(read_deployments(self.options.deployments))
        self.locator = None
        self.listener = None

    def run_items(self, items: Sequence[Item]) -> list[Item]:
        """``survey_items``, with a warning that names what was left out."""
        kept, left = survey_items(items)
        if left:
            what = (
                "file in the input is not a photo, video or sound and was"
                if len(left) == 1
                else "files in the input are not photos, videos or sound and were"
            )
            log.warning(
                "%d %s left out: %s",
                len(left),
                what,
                ", ".join(p.name for i in left[:3] for p in i.paths[:1])
                + (", ..." if len(left) > 3 else ""),
            )
        return kept

    def settings(self) -> dict:
        examples = self.options.examples
        return {
            "version": __version__,
            "crop_model": self.options.image_model,
            "scan_model": SCAN_MODEL,
            "species": [s.prompt for s in self.species or []],
            "examples_sha256": folder_digest(examples) if examples else None,
            "deployments_sha256": file_digest(self.options.deployments)
            if self.options.deployments
            else None,
            "model_sha256": folder_digest(self.options.model) if self.options.model else None,
            # rows cached before they carried these arrays are not reused
            "row_arrays": [CROP_FEATURES, SPECIES_SCORES],
            # rows cached before site and camera were read under the input folder (a camera
            # folder right under it has the input for its site), or before a camera's date
            # outside 1990..now was noted and replaced, are not reused
            "placement": "site/camera under the input, the input a single site's; dates outside "
            "1990..now not trusted",
            # rows named from the crops alone, with roll-ups to WordNet groups, are not reused
            "naming": "crops and whole picture, label_distribution; list names only",
            "groups": [[g.name, *g.members] for g in self.groups],
            "sound": [SOUND_MODEL, self.options.sound_threshold, self.options.max_sound_s]
            if sound_available()
            else None,
            "inputs": self.digest,
        }

    def setup(self) -> None:
        if self.locator is not None:
            return
        from mmfuse.encoders.base import create_encoder
        from mmfuse.tasks.wildlife.locate import Locator
        from mmfuse.tasks.wildlife.naming import Namer

        device = registry.select_device(self.device)
        encoder = create_encoder(self.options.image_model, device)
        scanner = getattr(create_encoder(SCAN_MODEL, device), "model", None)
        self.locator = Locator(encoder, scanner, self.options.threshold)
        prototypes = examples = head = None
        if self.options.model is not None:
            from mmfuse.tasks.wildlife.head import SpeciesHead

            head = SpeciesHead(self.options.model, device)
        if self.options.examples is not None:
            from mmfuse.tasks.wildlife.examples import example_prototypes

            self.species, prototypes, examples = example_prototypes(
                self.options.examples, self.species, self.locator
            )
        self.namer = Namer(
            encoder,
            self.species,
            self.options.species_threshold,
            prototypes,
            examples,
            head,
            self.groups,
            self.options.rollup,
        )

    def _head_species(self) -> list[Species]:
        """The species of the ``--model`` head, checked against the crop classifier and the
        species list.

        Raises:
            UsageError: not a species head, one trained on another classifier's features, or
                a species list that names other species.
        """
        from mmfuse.tasks.wildlife.head import read_head

        meta, classes = read_head(self.options.model)
        trained_with = meta.get("image_model")
        if trained_with and trained_with != self.options.image_model:
            raise UsageError(
                f"--model {self.options.model} names crops of {trained_with}, "
                f"this run classifies them with {self.options.image_model}"
            )
        listed = {s.name.casefold() for s in self.species or []}
        if listed and listed != {c.casefold() for c in classes}:
            raise UsageError(
                f"--species names other species than --model {self.options.model} "
                f"({', '.join(classes)}); without --species the head's are used"
            )
        return [Species(name) for name in classes]

    def decode(self, item: Item) -> Decoded:
        media = [p for p in item.paths if media_kind(p) in ("image", "video")]
        sounds = [p for p in item.paths if media_kind(p) == "audio"]
        if not media and len(sounds) == 1:
            read = read_sound(sounds[0], self.options.max_sound_s)
            return Decoded(read, self.cameras.place(sounds[0]))
        if len(media) != 1:
            kinds = ", ".join(sorted({p.suffix or p.name for p in item.paths}))
            raise InputError(f"{item.id}: not a camera-trap photo or video ({kinds})")
        path = media[0]
        placement = self.cameras.place(path)
        if media_kind(path) == "video":  # its frames are prepared one batch at a time
            read = read_video(path, self.options.every_s, self.options.max_frames)
            return Decoded(read, placement)
        read = read_photo(path, placement.burst)
        prepared = None
        if self.locator is not None:  # set up: the info bars, motion and scan pixels now
            prepared = [self.locator.prepare(read.frames[0], read.thumbs, read.positions[0])]
        return Decoded(read, placement, prepared)

    def process(self, batch: Sequence[tuple[Item, Decoded]]) -> list[dict]:
        self.setup()
        return [self._row(item, decoded) for item, decoded in batch]

    def _row(self, item: Item, decoded: Decoded) -> dict:
        media, place = decoded.media, decoded.placement
        path = next(p for p in item.paths if media_kind(p) in SURVEY_KINDS)
        when = place.stamp.time
        deployment = (
            self.deployments.find(place.site, place.camera, when) if self.deployments else None
        )
        row = {
            "file": str(path.relative_to(self.root)) if path.is_relative_to(self.root) else path,
            "site": place.site,
            "camera": place.camera,
            "deployment_id": deployment.id if deployment else "",
            "datetime": (deployment.localise(when) if deployment else when).isoformat(
                timespec="seconds"
            ),
            "datetime_source": place.stamp.source,
            "event_id": "/".join(filter(None, (place.site, place.camera))) + f"#{place.event}",
        }
        found = self._found(media, row, decoded.prepared)
        notes = "; ".join(filter(None, (place.stamp.note, found.get("notes", ""))))
        return {**found, "notes": notes}

    def _found(self, media: FileMedia | SoundMedia, row: dict, prepared=None) -> dict:
        """The row with what the file shows: category, species, count, boxes, notes."""
        if isinstance(media, SoundMedia):
            if self.listener is None:
                names = [s.name for s in self.species or []]
                self.listener = Listener(names, self.options.sound_threshold)
            return {**row, **self.listener.columns(media)}
        located = self.locator.locate(media.frames, media.thumbs, media.positions, prepared)
        per_frame = located.detections
        found = [d for frame in per_frame for d in frame]
        notes = []
        if media.kind == "video":
            notes.append(f"{len(media.frames)} frames analysed")
        if not found:
            return {**row, "category": "blank", "count": 0, "notes": "; ".join(notes)}
        row[CROP_FEATURES] = crop_features(found)
        best = max(found, key=lambda d: d.mass / self.locator.needed[_index(d.category)])
        category = best.category
        counted = [_counted(frame, category) for frame in per_frame]
        busiest = max(range(len(counted)), key=lambda f: len(counted[f]))
        if category != "person" and any(d.category == "person" for d in found):
            notes.append("a person is also in view")
        if category == "person":
            notes.append("person: flagged for privacy")
        if category == "animal":
            scores = self.namer.evidence(found, self.locator.whole_view(located))
            if scores is not None:
                row[SPECIES_SCORES] = scores
        return {
            **row,
            "category": category,
            "count": len(counted[busiest]),
            "boxes": format_boxes([d.box for d in counted[busiest]]),
            "box_conf": ";".join(f"{d.mass:.3f}" for d in counted[busiest]),
            "notes": "; ".join(notes),
        }

    def complete(self, rows: Sequence[dict]) -> Sequence[dict]:
        """The rows named: each animal file's scores adjusted by the survey's mean of each
        name (``naming.adjust``; not for a trained head's), then its species, score, top three,
        level and a note when unsure."""
        from mmfuse.tasks.wildlife.naming import Namer, survey_prior

        namer = Namer(
            None,
            self.species,
            self.options.species_threshold,
            groups=self.groups,
            rollup=self.options.rollup,
        )
        prior = None
        if self.species and self.options.model is None:
            prior = survey_prior([r[SPECIES_SCORES] for r in rows if _scored(r)])
        return _Named(rows, namer, prior)

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        from mmfuse.tasks.wildlife.camtrapdp import write_package
        from mmfuse.tasks.wildlife.events import write_events, write_summary
        from mmfuse.tasks.wildlife.megadetector import write_batch_output

        rows = list(rows)
        outputs = [write_events(rows, out_dir / "events.csv")]
        outputs.append(write_summary(rows, out_dir / "summary.csv"))
        found = self.deployments.all() if self.deployments else []
        outputs += write_package(rows, self.root, out_dir / "camtrap-dp", found)
        names = [s.name for s in self.species or []] + [g.name for g in self.groups]
        classifier = f"mmfuse {__version__} {self.options.image_model}"
        outputs.append(write_batch_output(rows, names, classifier, out_dir / MEGADETECTOR_JSON))
        if self.options.copy and self.options.sort_into is None:
            log.warning("--copy does nothing without --sort-into DIR")
        if self.options.sort_into is not None:
            from mmfuse.tasks.wildlife.sorting import sort_files

            done = sort_files(rows, self.root, self.options.sort_into, self.options.copy)
            how = "copied" if self.options.copy else "linked"
            log.info("%d files %s into %s", done, how, self.options.sort_into)
        return outputs

    @classmethod
    def report_sections(cls, rows, out_dir, files):
        from mmfuse.tasks.wildlife.report import report_sections

        return report_sections(rows, out_dir, files)


def _scored(row: dict) -> bool:
    return row.get("category") == "animal" and row.get(SPECIES_SCORES) is not None


class _Named(Sequence):
    """The final rows, each animal row named from its adjusted scores on access (the rows are
    read from the journal one at a time: memory stays flat)."""

    def __init__(self, rows: Sequence[dict], namer, prior):
        self._rows, self._namer, self._prior = rows, namer, prior

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        from mmfuse.tasks.wildlife.naming import adjust

        row = dict(self._rows[index])
        scores = row.get(SPECIES_SCORES)
        if row.get("category") != "animal" or row.get("error") or scores is None:
            return row  # sound files are named by BirdNET in their row
        scores = np.asarray(scores, dtype=np.float32)
        if self._namer.species:
            scores = adjust(scores, self._prior)
        naming = self._namer.name(scores)
        notes = "; ".join(filter(None, (row.get("notes", ""), naming.note)))
        return {
            **row,
            "species": naming.species,
            "species_score": naming.score,
            "top_species": naming.top,
            "prediction_level": naming.level,
            "notes": notes,
        }


def _index(category: str) -> int:
    from mmfuse.tasks.wildlife.groups import CATEGORIES

    return CATEGORIES.index(category)


def _counted(detections: Sequence[Detection], category: str) -> list[Detection]:
    """A frame's detections of ``category`` that count as separate individuals."""
    mine = [d for d in detections if d.category == category]
    if not mine:
        return []
    best = max(d.mass for d in mine)
    return [d for d in mine if d.mass >= COUNT_MASS_FACTOR * best]
