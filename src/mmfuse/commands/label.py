"""Rank free-text labels for images and videos, zero-shot (no training, any label set).

Each image gives one row. Each video gives one row per sampled frame (every --every seconds,
its time in the ``time`` column) and then one row for the whole video, the mean of its frames'
probabilities (``time`` empty, ``frames`` the number averaged). Columns: file, time, frames,
top_label, top_prob, top_labels (the --top-k best as "label:prob; ..."), one ``p_LABEL``
probability column per label, and error. A file that cannot be read gets a row with its
one-line ``error`` and the others go on (exit code 1). Folders are searched for images and
videos. Labels are comma-separated, or ``@FILE`` for one label per line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.image import BATCH_SIZE, ImageEncoder
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, InputError, UsageError
from mmfuse.io.discover import expand_files
from mmfuse.io.image import load_image
from mmfuse.io.writers import atomic_write, write_csv
from mmfuse.registry import default_model
from mmfuse.types import media_kind

logger = logging.getLogger(__name__)

# Model backends that implement ImageEncoder.
IMAGE_BACKENDS = ("timm", "open_clip")
# Media kinds this command reads.
LABEL_KINDS = ("image", "video")
# Images are decoded at no less than this shorter side, then resized by the model's own
# transform (256 px before a 224 px crop for EfficientNet-Lite0, 224 or 336 px for CLIP
# models): large JPEGs decode several times faster at a reduced DCT scale.
DECODE_MIN_SIDE = 336
# Decimals of the probabilities written.
PROB_DECIMALS = 4
FIXED_COLUMNS = ("file", "time", "frames", "top_label", "top_prob", "top_labels")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="image or video files, or folders"
    )
    parser.add_argument(
        "--labels",
        required=True,
        help='comma-separated labels ("cat,dog,a red car"), or @FILE with one label per line',
    )
    parser.add_argument(
        "--model",
        default=default_model("image"),
        help="image model: timm:NAME, timm:ARCH@PATH, open_clip:ARCH@PATH or open_clip:ARCH/TAG "
        "with --online (default: %(default)s; see `mmfuse models`)",
    )
    parser.add_argument(
        "--top-k", type=int, default=3, help="labels listed in top_labels (default: 3)"
    )
    parser.add_argument(
        "--every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between sampled video frames (default: 2)",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the CSV here instead of stdout")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")


def parse_labels(spec: str) -> list[str]:
    """The labels of ``--labels``: comma-separated, or one per line of the file after "@".

    Raises:
        UsageError: fewer than two labels, a duplicate, or an unreadable label file.
    """
    if spec.startswith("@"):
        try:
            text = Path(spec[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot read labels file {spec[1:]}: {error.strerror}") from None
        labels = [line.strip() for line in text.splitlines()]
    else:
        labels = [part.strip() for part in spec.split(",")]
    labels = [label for label in labels if label]
    if len(labels) < 2:
        raise UsageError("give at least two labels to rank (--labels 'cat,dog')")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UsageError(f"duplicate labels: {', '.join(duplicates)}")
    return labels


@dataclass
class Labeller:
    """Turns files into rows: probabilities of ``labels`` per image, frame and video.

    Attributes:
        encoder: the image encoder.
        labels: the labels ranked.
        top_k: labels listed in ``top_labels``.
        every_s: seconds between sampled video frames.
        failed: the number of error rows written so far.
    """

    encoder: ImageEncoder
    labels: list[str]
    top_k: int
    every_s: float
    failed: int = 0

    @property
    def columns(self) -> list[str]:
        return [*FIXED_COLUMNS, *(f"p_{label}" for label in self.labels), "error"]

    def _row(self, path: Path, probs: np.ndarray, time: float | None, frames: int) -> dict:
        order = np.argsort(-probs, kind="stable")
        best = [f"{self.labels[i]}:{probs[i]:.{PROB_DECIMALS}f}" for i in order[: self.top_k]]
        row = {
            "file": str(path),
            "time": None if time is None else round(time, 3),
            "frames": frames,
            "top_label": self.labels[order[0]],
            "top_prob": round(float(probs[order[0]]), PROB_DECIMALS),
            "top_labels": "; ".join(best),
        }
        for label, p in zip(self.labels, probs, strict=True):
            row[f"p_{label}"] = round(float(p), PROB_DECIMALS)
        return row

    def _error(self, path: Path, error: Exception) -> dict:
        self.failed += 1
        if isinstance(error, InputError):
            message = str(error)
        else:  # one file's failure must not end the run
            logger.debug("labelling %s failed", path, exc_info=True)
            message = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
        logger.warning("%s", message if isinstance(error, InputError) else f"{path}: {message}")
        return {"file": str(path), "error": message}

    def _scores(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """float32 [n, L] label probabilities of decoded images."""
        return self.encoder.label_scores(self.encoder.encode(images), self.labels)

    def image_rows(self, paths: Sequence[Path]) -> Iterator[dict]:
        """One row per image, in order; the decodable ones are encoded in one batch."""
        outcomes: list[np.ndarray | Exception] = []
        for path in paths:
            try:
                outcomes.append(load_image(path, min_side=DECODE_MIN_SIDE))
            except InputError as error:
                outcomes.append(error)
        good = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, np.ndarray)]
        if good:
            try:
                for i, probs in zip(good, self._scores([outcomes[i] for i in good]), strict=True):
                    outcomes[i] = probs
            except Exception as error:  # the batch failed: report it on each of its files
                for i in good:
                    outcomes[i] = error
        for path, outcome in zip(paths, outcomes, strict=True):
            if isinstance(outcome, Exception):
                yield self._error(path, outcome)
            else:
                yield self._row(path, outcome, None, 1)

    def video_rows(self, path: Path) -> Iterator[dict]:
        """One row per sampled frame, then the whole video's row (mean of frame probabilities)."""
        from mmfuse.io.video import sample_frames

        total, count = np.zeros(len(self.labels), dtype=np.float64), 0
        try:
            batch = []
            for frame in sample_frames(path, every_s=self.every_s):
                batch.append(frame)
                if len(batch) == BATCH_SIZE:
                    yield from self._frame_rows(path, batch, total)
                    count, batch = count + len(batch), []
            if batch:
                yield from self._frame_rows(path, batch, total)
                count += len(batch)
        except Exception as error:
            yield self._error(path, error)
            return
        if count == 0:
            yield self._error(path, InputError(f"{path.name}: no frame could be sampled"))
            return
        yield self._row(path, (total / count).astype(np.float32), None, count)

    def _frame_rows(self, path: Path, frames: list, total: np.ndarray) -> Iterator[dict]:
        scores = self._scores([frame.image for frame in frames])
        total += scores.sum(axis=0)
        for frame, probs in zip(frames, scores, strict=True):
            yield self._row(path, probs, frame.time, 1)

    def rows(self, files: Sequence[Path]) -> Iterator[dict]:
        """Rows for all files in order: runs of images in batches, videos one at a time."""
        pending: list[Path] = []
        for path in files:
            if media_kind(path) == "video":
                yield from self.image_rows(pending)
                pending = []
                yield from self.video_rows(path)
                continue
            pending.append(path)
            if len(pending) == BATCH_SIZE:
                yield from self.image_rows(pending)
                pending = []
        yield from self.image_rows(pending)


def run(args: argparse.Namespace) -> int:
    labels = parse_labels(args.labels)
    files = expand_files(args.files, LABEL_KINDS)
    if args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {args.top_k}")
    if args.every <= 0:
        raise UsageError(f"--every must be positive, got {args.every}")
    if args.model.partition(":")[0] not in IMAGE_BACKENDS:
        raise UsageError(
            f"'{args.model}' is not an image model; use a {' or '.join(IMAGE_BACKENDS)} model"
        )
    labeller = Labeller(create_encoder(args.model, args.device), labels, args.top_k, args.every)
    if args.output is None:
        write_csv(labeller.rows(files), labeller.columns, sys.stdout)
    else:
        with atomic_write(args.output) as stream:
            write_csv(labeller.rows(files), labeller.columns, stream)
    return EXIT_PARTIAL if labeller.failed else EXIT_OK
