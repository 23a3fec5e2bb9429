"""When and where: each file's time, camera and site, its burst and its event.

Times come from the file itself where it says (EXIF ``DateTimeOriginal`` of a photo, the
``creation_time`` tag of a video container), else from the file's modification time, and the
``datetime_source`` column says which. A date the file states before EARLIEST_DATE or after
now (a day's leeway for the camera's time zone) is a reset or mis-set clock: it is not
trusted, the file time stands in, and the row's notes say so. Camera-trap clocks carry no
time zone, so times are naive local times.

Layout: ``site/camera/file``. The camera is the folder holding the file (a DCF folder the
camera made itself, ``100RECNX``, ``101MEDIA``, is skipped), the site the folder above it, both
relative to the run's input folder (a run on one site's folder, ``savanna/cam01/file``, has
that folder for its site); ``cameras="input"`` makes the whole input one camera.
Within a camera, files sorted by time form a **burst** while consecutive photos are at most
BURST_GAP_S apart (the photos of one trigger), and an **event** while consecutive files are at
most the event gap apart.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mmfuse.types import Item, media_kind

# Photos of one trigger are taken within a second or two of each other; RapidFire and
# near-video modes fire faster. A pause longer than this starts a new burst.
BURST_GAP_S = 5.0
# Photos around a file used as its background: bursts of 3-10 are usual.
MAX_BURST = 10
# Folders a camera names itself (DCF: three digits and five characters).
DCF_FOLDER = re.compile(r"^\d{3}[A-Z0-9_]{5}$")
# EXIF tags: DateTimeOriginal (Exif IFD), DateTime (IFD0).
EXIF_IFD, DATETIME_ORIGINAL, DATETIME = 0x8769, 0x9003, 0x0132
EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"
# Digital camera traps are younger than this; an earlier date is an unset clock.
EARLIEST_DATE = datetime(1990, 1, 1)
# Camera clocks run on local time, up to 14 hours ahead of ours: a later date is in the future.
CLOCK_LEEWAY = timedelta(days=1)


@dataclass(frozen=True)
class Stamp:
    """A file's time and where it came from ("exif", "video metadata" or "file time"), with a
    note when the file's own date was not trusted."""

    time: datetime
    source: str
    note: str = ""


def _exif_time(path: Path) -> datetime | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            text = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
        return datetime.strptime(str(text).strip("\x00 ")[:19], EXIF_FORMAT) if text else None
    except Exception:  # unreadable or malformed EXIF: fall back to the file time
        return None


def _video_time(path: Path) -> datetime | None:
    import av

    try:
        with av.open(str(path)) as container:
            text = container.metadata.get("creation_time", "")
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        return stamp.replace(tzinfo=None) if stamp else None
    except Exception:  # no or malformed metadata: fall back to the file time
        return None


def _untrusted(found: datetime) -> str:
    """Why a file's own date cannot be its time ("" when it can)."""
    if found < EARLIEST_DATE:
        return f"before {EARLIEST_DATE.year}"
    if found > datetime.now() + CLOCK_LEEWAY:
        return "in the future"
    return ""


def file_stamp(path: Path) -> Stamp:
    """The file's time: EXIF, video metadata, or its modification time (also when the file's
    own date is before EARLIEST_DATE or in the future, with a note saying so)."""
    kind = media_kind(path)
    found = _exif_time(path) if kind == "image" else _video_time(path) if kind == "video" else None
    source = "exif" if kind == "image" else "video metadata"
    note = ""
    if found is not None:
        why = _untrusted(found)
        if not why:
            return Stamp(found, source)
        shown = found.isoformat(sep=" ", timespec="seconds")
        note = f"{source} date {shown} is {why}, not trusted: file time used"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return Stamp(datetime.fromtimestamp(mtime), "file time", note)


def camera_of(path: Path, root: Path, whole_input: bool) -> tuple[str, str]:
    """(site, camera) of a file: the folders above it, relative to ``root``. A camera folder
    right under ``root`` (the single-site layout, ``savanna/cam01/IMG.JPG`` run on
    ``savanna``) has ``root`` for its site."""
    if whole_input:
        return "", root.name
    folders = list(path.parent.relative_to(root).parts) if path.is_relative_to(root) else []
    if folders and DCF_FOLDER.match(folders[-1]):
        folders.pop()
    if not folders:
        return "", root.name
    return (folders[-2] if len(folders) > 1 else root.name), folders[-1]


@dataclass(frozen=True)
class Placement:
    """Where a file sits among its camera's files.

    Attributes:
        site, camera: from the folders.
        stamp: its time.
        burst: the photos of its burst (itself included), in time order; [] for a video.
        event: its event's number within the camera, from 1.
    """

    site: str
    camera: str
    stamp: Stamp
    burst: tuple[Path, ...]
    event: int


class Cameras:
    """Indexes the run's files by camera, lazily and once per camera (thread-safe).

    Args:
        paths: every media file of the run.
        root: the input folder (site and camera are relative to it).
        whole_input: the whole input is one camera.
        event_gap_s: the longest pause within an event.
    """

    def __init__(self, paths: Sequence[Path], root: Path, whole_input: bool, event_gap_s: float):
        self.root = root
        self.whole_input = whole_input
        self.event_gap_s = event_gap_s
        self.members: dict[tuple[str, str], list[Path]] = {}
        for path in paths:
            self.members.setdefault(camera_of(path, root, whole_input), []).append(path)
        self._placed: dict[Path, Placement] = {}
        self._lock = threading.Lock()

    def place(self, path: Path) -> Placement:
        """The file's placement (indexing its camera on first use)."""
        with self._lock:
            if path not in self._placed:
                key = camera_of(path, self.root, self.whole_input)
                self._index(key, self.members.get(key, [path]))
            return self._placed[path]

    def _index(self, key: tuple[str, str], paths: Sequence[Path]) -> None:
        stamps = {p: file_stamp(p) for p in paths}
        ordered = sorted(paths, key=lambda p: (stamps[p].time, str(p)))
        events: dict[Path, int] = {}
        bursts: list[list[Path]] = []
        event, previous, last_photo = 0, None, None
        for path in ordered:
            when = stamps[path].time
            if previous is None or (when - previous).total_seconds() > self.event_gap_s:
                event += 1
            events[path] = event
            previous = when
            if media_kind(path) != "image":
                continue
            same_folder = bool(bursts) and bursts[-1][-1].parent == path.parent
            gap = (when - last_photo).total_seconds() if last_photo is not None else None
            if same_folder and gap is not None and gap <= BURST_GAP_S:
                bursts[-1].append(path)
            else:
                bursts.append([path])
            last_photo = when
        burst_of = {p: b for b in bursts for p in b}
        for path in ordered:
            burst = burst_of.get(path, [])
            if len(burst) > MAX_BURST:  # the MAX_BURST photos around it
                at = burst.index(path)
                start = min(max(0, at - MAX_BURST // 2), len(burst) - MAX_BURST)
                burst = burst[start : start + MAX_BURST]
            self._placed[path] = Placement(key[0], key[1], stamps[path], tuple(burst), events[path])


def common_root(paths: Sequence[Path]) -> Path:
    """The deepest folder holding every path."""
    if not paths:
        return Path.cwd()
    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def _named_from(item: Item) -> Path | None:
    """The folder an item's id is its file's path relative to (with or without the
    extension), as discovery names items; None when the id is no such path (a manifest's)."""
    if len(item.paths) != 1 or not item.id:
        return None
    path = item.paths[0]
    for name in (path.as_posix(), path.with_suffix("").as_posix()):
        parts = len(Path(item.id).parts)
        if name.endswith("/" + item.id) and len(path.parents) >= parts:
            return path.parents[parts - 1]
    return None


def input_folder(items: Sequence[Item]) -> Path:
    """The run's input folder: the one every item's id is relative to (discovery names items by
    their path under the input, so a single-site survey ``survey/savanna/cam01`` keeps its
    site), else the deepest folder holding every file (a manifest's items)."""
    paths = [p for item in items for p in item.paths]
    folders = {_named_from(item) for item in items}
    if len(folders) == 1 and None not in folders:
        (folder,) = folders
        if all(p.is_relative_to(folder) for p in paths):
            return folder
    return common_root(paths)
