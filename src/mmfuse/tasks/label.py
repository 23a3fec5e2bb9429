"""Labelling: zero-shot probabilities of free-text labels for each image and video.

One row per item: its image and video files scored together (an image counts once, a video
by the mean of its sampled frames; the item's probabilities are the mean over its files),
columns id, file, time, frames, top_label, top_prob, top_labels, one ``p_LABEL`` per label,
``detail`` and error. ``detail`` carries the finer rows as JSON (the engine gives one row per
item): one entry per image, one per sampled video frame and one per whole video, each
``{"path", "time", "frames", "probs"}``. ``finish`` expands them into ``labels.csv``, the
per-file table of ``mmfuse label``: a row per image, a row per sampled frame (its ``time``)
and a row per video, the mean of its frames (``time`` empty, ``frames`` the number averaged).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse import __version__
from mmfuse.encoders.base import create_encoder
from mmfuse.errors import InputError, UsageError
from mmfuse.io.writers import atomic_write, write_csv
from mmfuse.registry import default_model
from mmfuse.tasks.base import Task
from mmfuse.tasks.media import check_every, every_option
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.tasks.samples import png_bytes
from mmfuse.types import Item, media_kind

# Model backends that implement ImageEncoder.
IMAGE_BACKENDS = ("timm", "open_clip")
# Images are decoded at no less than this shorter side, then resized by the model's own
# transform (256 px before a 224 px crop for EfficientNet-Lite0, 224 or 336 px for CLIP
# models): large JPEGs decode several times faster at a reduced DCT scale.
DECODE_MIN_SIDE = 336
# Video frames are scored in batches of this many (the image encoder's BATCH_SIZE), so a
# long video holds one batch of frames in memory, never all of them.
FRAME_BATCH = 32
# Decimals of the probabilities written; ``detail`` keeps two more so its mean is exact.
PROB_DECIMALS = 4
DETAIL_DECIMALS = 6
# The per-file table's columns before the p_LABEL columns (``mmfuse label``'s output).
FIXED_COLUMNS = ("file", "time", "frames", "top_label", "top_prob", "top_labels")
# The item row's columns between id and the p_LABEL columns.
ITEM_COLUMNS = ("files", "frames", "top_label", "top_prob", "top_labels")
# The expanded per-file table ``finish`` writes into the run folder.
LABELS_CSV = "labels.csv"


def read_labels(spec: Sequence[str]) -> tuple[str, ...]:
    """The labels: as given, or one per line of the file named after "@" (``("@FILE",)``).

    Raises:
        UsageError: fewer than two labels, a duplicate, or an unreadable label file.
    """
    labels = list(spec)
    if len(labels) == 1 and labels[0].startswith("@"):
        name = labels[0][1:]
        try:
            labels = Path(name).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise UsageError(f"cannot read labels file {name}: {reason}") from None
    labels = [label.strip() for label in labels if label.strip()]
    if len(labels) < 2:
        raise UsageError("give at least two labels to rank (--labels 'cat,dog')")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UsageError(f"duplicate labels: {', '.join(duplicates)}")
    return tuple(labels)


@dataclass(frozen=True)
class LabelOptions:
    """What is ranked and by which model (every field keys the cache)."""

    labels: tuple[str, ...] = option(
        (),
        'comma-separated labels ("cat,dog,a red car"), or @FILE with one label per line',
        required=True,
    )
    model: str = option(
        default_model("image"),
        "image model: timm:NAME, timm:ARCH@PATH, open_clip:ARCH@PATH or open_clip:ARCH/TAG "
        "with --online (see `mmfuse models`)",
    )
    top_k: int = option(3, "labels listed in top_labels")
    every_s: float = every_option()

    def __post_init__(self):
        object.__setattr__(self, "labels", read_labels(self.labels))
        if self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1, got {self.top_k}")
        check_every(self.every_s)
        if self.model.partition(":")[0] not in IMAGE_BACKENDS:
            raise UsageError(
                f"'{self.model}' is not an image model; use a {' or '.join(IMAGE_BACKENDS)} model"
            )


def common_folder(items: Sequence[Item]) -> str | None:
    """The folder that holds every item's files (None when there are none)."""
    folders = [os.path.dirname(os.path.abspath(p)) for item in items for p in item.paths]
    return os.path.commonpath(folders) if folders else None


@register_task("label")
class LabelTask(Task):
    """Ranks the labels for every image and sampled video frame of an item."""

    description = """\
Score your own free-text labels for images and videos, zero-shot: results.csv has
one row per item (its files' mean), labels.csv one row per image, per sampled video frame and
per whole video. Read first: top_label, top_prob, top_labels. (mmfuse label writes the
per-file table to a CSV file or stdout.)"""
    examples = (
        'mmfuse run label photos/ -o out/labels --labels "cat,dog,a red car"',
        "mmfuse run label clips/ -o out/labels --labels @labels.txt --every 1",
    )

    Options = LabelOptions

    @classmethod
    def example_input(cls) -> tuple[str, bytes]:
        return "good.png", png_bytes()

    @classmethod
    def example_options(cls) -> dict:
        return {"labels": ["cat", "dog"]}

    @classmethod
    def example_model(cls, folder: Path) -> str:
        return "timm:tf_efficientnet_lite2"

    default_batch_size = 8

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        super().__init__(options, items, device)
        self.labels = list(self.options.labels)
        self.prob_columns = [f"p_{label}" for label in self.labels]
        self.columns = ("id", *ITEM_COLUMNS, *self.prob_columns, "detail", "notes", "error")
        self.file_columns = (*FIXED_COLUMNS, *self.prob_columns, "error")
        # How ``labels.csv`` names a file (absolute path -> text): the command sets the paths
        # as the user typed them; otherwise relative to the inputs' common folder.
        self.file_names: dict[str, str] = {}
        self.root = common_folder(items)
        self.first_file = {item.id: str(item.paths[0]) for item in items if item.paths}
        self.encoder = None

    def settings(self) -> dict:
        options = self.options
        return {
            "version": __version__,
            "model": options.model,
            "labels": list(options.labels),
            "top_k": options.top_k,
            "every_s": options.every_s,
        }

    def setup(self) -> None:
        if self.encoder is None:
            self.encoder = create_encoder(self.options.model, self.device)

    def decode(self, item: Item) -> list[tuple[Path, np.ndarray | None]]:
        """(path, RGB image) per image; (path, None) per video, whose frames ``process``
        streams (a long video's frames would not fit in memory at once)."""
        from mmfuse.io.image import load_image
        from mmfuse.io.video import probe_video

        files = [p for p in item.paths if media_kind(p) in ("image", "video")]
        if not files:
            raise InputError(f"{item.id}: no image or video file")
        decoded = []
        for path in files:
            if media_kind(path) == "video":
                probe_video(path)  # a file that is no video fails here, in the decode pool
                decoded.append((path, None))
            else:
                decoded.append((path, load_image(path, min_side=DECODE_MIN_SIDE)))
        return decoded

    def process(self, batch: Sequence[tuple[Item, list]]) -> list[dict]:
        self.setup()
        images = [image for _, files in batch for _, image in files if image is not None]
        scores = iter(self._scores(images)) if images else iter(())
        rows = []
        for _, files in batch:
            detail = []
            for path, image in files:
                if image is None:
                    detail.extend(self._video_detail(path))
                else:
                    detail.append(_entry(path, None, 1, next(scores)))
            rows.append(self._item_row(detail))
        return rows

    def _scores(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """float32 [n, L] label probabilities of RGB images."""
        return self.encoder.label_scores(self.encoder.encode(images), self.labels)

    def _video_detail(self, path: Path) -> list[dict]:
        """One entry per sampled frame, then the whole video's (mean of its frames)."""
        from mmfuse.io.video import sample_frames

        entries, batch = [], []
        total = np.zeros(len(self.labels), dtype=np.float64)
        for frame in sample_frames(path, every_s=self.options.every_s):
            batch.append(frame)
            if len(batch) == FRAME_BATCH:
                total += self._frame_entries(path, batch, entries)
                batch = []
        if batch:
            total += self._frame_entries(path, batch, entries)
        if not entries:
            raise InputError(f"{path.name}: no frame could be sampled")
        entries.append(_entry(path, None, len(entries), total / len(entries)))
        return entries

    def _frame_entries(self, path: Path, frames: list, entries: list[dict]) -> np.ndarray:
        scores = self._scores([frame.image for frame in frames])
        entries.extend(_entry(path, f.time, 1, p) for f, p in zip(frames, scores, strict=True))
        return scores.sum(axis=0)

    def _item_row(self, detail: list[dict]) -> dict:
        """The item's row: the mean over its files (frame entries are inside their video's)."""
        files = [e for e in detail if e["time"] is None]
        probs = np.mean([e["probs"] for e in files], axis=0)
        row = {"files": len(files), **self.summary(probs, sum(e["frames"] for e in files))}
        row["detail"] = json.dumps(detail, separators=(",", ":"))
        return row

    def summary(self, probs: Sequence[float], frames: int) -> dict:
        """The label columns of one image, frame, video or item."""
        probs = np.asarray(probs, dtype=np.float64)
        order = np.argsort(-probs, kind="stable")
        best = [
            f"{self.labels[i]}:{probs[i]:.{PROB_DECIMALS}f}" for i in order[: self.options.top_k]
        ]
        row = {
            "frames": frames,
            "top_label": self.labels[order[0]],
            "top_prob": round(float(probs[order[0]]), PROB_DECIMALS),
            "top_labels": "; ".join(best),
        }
        for column, p in zip(self.prob_columns, probs, strict=True):
            row[column] = round(float(p), PROB_DECIMALS)
        return row

    def name_of(self, path: str) -> str:
        """How ``labels.csv`` shows a file."""
        if path in self.file_names:
            return self.file_names[path]
        return os.path.relpath(path, self.root) if self.root else path

    def file_rows(self, rows: Sequence[dict]) -> Iterator[dict]:
        """The per-file table: each item's ``detail`` expanded, a failed item as one row."""
        for row in rows:
            if row.get("error"):
                path = self.first_file.get(row["id"])
                yield {"file": self.name_of(path) if path else row["id"], "error": row["error"]}
                continue
            for entry in json.loads(row["detail"]):
                yield {
                    "file": self.name_of(entry["path"]),
                    "time": entry["time"],
                    **self.summary(entry["probs"], entry["frames"]),
                    "error": "",
                }

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        path = Path(out_dir) / LABELS_CSV
        with atomic_write(path) as stream:
            write_csv(self.file_rows(rows), self.file_columns, stream)
        return [path]


def _entry(path: Path, time: float | None, frames: int, probs: np.ndarray) -> dict:
    """One ``detail`` entry (JSON-ready)."""
    return {
        "path": str(path),
        "time": None if time is None else round(float(time), 3),
        "frames": frames,
        "probs": [round(float(p), DETAIL_DECIMALS) for p in probs],
    }
