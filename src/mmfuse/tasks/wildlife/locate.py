"""Locate: find the animals, people and vehicles in a camera-trap frame, then classify the crops.

For each frame of a file (one for a photo, the sampled frames of a video):

1. the picture without the camera's info bars (``picture_rows``);
2. candidate regions: what moved against the rest of the burst or video (``motion``), and the
   windows with the most animal, person and vehicle mass in one scan of the frame (``scan``);
3. up to MAX_CROPS candidates are cropped with context and classified on their own; a crop is
   a detection when its mass on a category reaches the threshold. Motion is evidence of its
   own, so a moving region needs less mass (``motion_threshold``) than a still one;
4. overlapping detections are merged (the stronger kept).

The image encoder does the classifying (its ``encode`` gives ImageNet probabilities and
features for the crops); the scan needs a timm classifier's feature map, and falls back to a
fixed grid of tiles for other encoders (CLIP).

Steps 1 and 2's motion and the scan's input pixels need no model: ``Locator.prepare`` does
them apart (the task calls it in its decode threads, where OpenCV and numpy work beside the
models' thread), and ``locate`` takes what it made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mmfuse.encoders.conse import normalise
from mmfuse.tasks.wildlife import motion, scan
from mmfuse.tasks.wildlife.boxes import Box, crop, iou, nms
from mmfuse.tasks.wildlife.groups import CATEGORIES, category_mass, crop_mass

# Mass a still crop needs per category, at the default threshold (animal, person, vehicle):
# ImageNet classifiers see animals in leaves and bark (EfficientNet-Lite2 crops of camera-trap
# blanks reach 0.56 animal mass, of animals 0.74 and more) but rarely vehicles (blanks stay
# under 0.15). People show as clothing classes, which striped or patterned coats also reach
# (a zebra's stripes give 0.2-0.4 "jersey"), so a person needs a clear majority; what people
# carry or ride counts four times on a crop (``groups.crop_mass``). The ``threshold`` option
# sets the animal value; the others scale with it.
DEFAULT_THRESHOLDS = (0.65, 0.5, 0.3)
# The whole frame's scan distribution counts as a detection for these categories only: a
# vehicle or person filling the frame; whole blank scenes reach 0.6 animal mass.
WHOLE_FRAME_CATEGORIES = ("person", "vehicle")
# Crops classified per frame: the two strongest motion regions and the best scan proposals.
MAX_CROPS = 3
MAX_MOTION_CROPS = 2
# A scan proposal is cropped only when its window holds at least this mass on its category.
MIN_PROPOSAL_MASS = 0.3
# Detections overlapping by more than this IoU are one object.
DETECTION_OVERLAP = 0.3
# Info bars: up to this share of the height, at the top and bottom, of rows that are nearly all
# black or all white (the camera's date, temperature and moon-phase strip).
MAX_BAR_SHARE = 0.1
BAR_LEVELS = (10, 245)
BAR_ROW_SHARE = 0.7
# Every this many columns are looked at (the bars span the frame's width).
BAR_COLUMN_STEP = 4


@dataclass
class Detection:
    """A classified region.

    Attributes:
        box: normalised (x, y, w, h) in the full frame.
        category: "animal", "person" or "vehicle".
        mass: its crop's mass on that category (``groups.crop_mass``; the whole frame's
            ``category_mass``).
        frame: which frame of the file it is in.
        probs: float32 [1000] the crop's ImageNet probabilities.
        features: float32 [F] the crop's pooled features.
        moved: whether motion found it.
    """

    box: Box
    category: str
    mass: float
    frame: int
    probs: np.ndarray
    features: np.ndarray
    moved: bool


@dataclass
class Prepared:
    """What locating one frame needs before any model (``Locator.prepare``).

    Attributes:
        rows: (first, end) rows of the picture without info bars (``picture_rows``).
        moved: up to MAX_MOTION_CROPS boxes of what moved, in the picture, strongest first.
        pixels: float32 [1, 3, h, w] the picture as the scan reads it; None without a scan.
    """

    rows: tuple[int, int]
    moved: list[Box]
    pixels: object | None  # torch.Tensor


@dataclass
class Located:
    """What ``Locator.locate`` finds in one file.

    Attributes:
        detections: per frame, its detections (strongest first).
        pictures: RGB uint8 each frame's picture without its info bars (``whole_view`` reads
            them for a file with an animal).
        best_mass: float32 [3] the highest crop mass seen per category (blank when all are low).
    """

    detections: list[list[Detection]] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)
    best_mass: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=np.float32))


def picture_rows(image: np.ndarray) -> tuple[int, int]:
    """(first, end) rows of the picture without the info bars at its top and bottom.

    Args:
        image: RGB uint8 [H, W, 3].
    """
    height = image.shape[0]
    # the channels' largest and smallest values, channel by channel (a reduction over the
    # last axis of three costs ten times as much)
    red, green, blue = (image[:, ::BAR_COLUMN_STEP, c] for c in range(3))
    brightest = np.maximum(np.maximum(red, green), blue)
    darkest = np.minimum(np.minimum(red, green), blue)
    flat = (brightest <= BAR_LEVELS[0]) | (darkest >= BAR_LEVELS[1])
    bar_row = flat.mean(axis=1) >= BAR_ROW_SHARE  # [H]
    limit = int(height * MAX_BAR_SHARE)
    # a bar starts at the edge; its text leaves gaps, so it ends at its last bar row in reach
    top = 1 + int(np.flatnonzero(bar_row[:limit])[-1]) if limit and bar_row[0] else 0
    tail = np.flatnonzero(bar_row[height - limit :])
    bottom = height - limit + int(tail[0]) if limit and bar_row[-1] else height
    return (top, bottom) if bottom - top > height // 2 else (0, height)


def _to_frame(box: Box, rows: tuple[int, int], height: int) -> Box:
    """A box found in the picture rows, in the full frame's coordinates."""
    scale = (rows[1] - rows[0]) / height
    return (box[0], rows[0] / height + box[1] * scale, box[2], box[3] * scale)


class Locator:
    """Finds and classifies regions with one image encoder.

    Args:
        encoder: the ``ImageEncoder`` that classifies crops (``encode(images)``).
        scanner: a timm classifier (``forward_features``, ``get_classifier``) whose feature
            map scans each frame; None: fixed tiles are classified instead.
        threshold: the animal mass a still crop needs (person and vehicle scale with it, see
            DEFAULT_THRESHOLDS).
        motion_factor: a moving region needs this share of a still one's mass.
    """

    def __init__(
        self,
        encoder,
        scanner=None,
        threshold: float = DEFAULT_THRESHOLDS[0],
        motion_factor: float = 0.6,
    ):
        self.encoder = encoder
        self.needed = np.asarray(DEFAULT_THRESHOLDS, dtype=np.float32) * (
            threshold / DEFAULT_THRESHOLDS[0]
        )
        self.motion_factor = motion_factor
        self.scan_model = scanner
        if scanner is not None:
            config = scanner.pretrained_cfg
            self.mean, self.std = config["mean"], config["std"]

    def prepare(
        self, frame: np.ndarray, thumbs: Sequence[np.ndarray], position: int | None
    ) -> Prepared:
        """A frame's info bars, motion boxes and scan pixels (no model; see ``locate``)."""
        rows = picture_rows(frame)
        picture = frame[rows[0] : rows[1]]
        moved = []
        if position is not None:
            moved = [box for box, _ in motion.motion_boxes(thumbs, position)[:MAX_MOTION_CROPS]]
        pixels = None
        if self.scan_model is not None:
            pixels = scan.scan_pixels(picture, self.mean, self.std)
        return Prepared(rows, moved, pixels)

    def _scan(self, pixels) -> tuple[list[scan.Proposal], np.ndarray, np.ndarray]:
        """The scan's proposals, and the whole picture's probabilities [1000] and L2-normalised
        pooled features [F] from the same forward pass (``pixels``: ``Prepared.pixels``)."""
        import torch

        device = next(self.scan_model.parameters()).device
        pixels = pixels.to(device)
        with torch.inference_mode():
            feature_map = self.scan_model.forward_features(pixels)
            boxes, masses = scan.window_masses(self.scan_model, feature_map)
            pooled = self.scan_model.forward_head(feature_map, pre_logits=True)
            probs = self.scan_model.get_classifier()(pooled).float().softmax(-1)[0]
            features = torch.nn.functional.normalize(pooled.float(), dim=-1)[0]
        return scan.propose(boxes, masses), probs.cpu().numpy(), features.cpu().numpy()

    def _regions(
        self, prepared: Prepared
    ) -> tuple[list[tuple[Box, bool]], tuple[np.ndarray, np.ndarray] | None]:
        """Regions to crop (box in the picture, moved) and, when the scan ran, the whole
        picture's (probabilities, features)."""
        regions: list[tuple[Box, bool]] = [(box, True) for box in prepared.moved]
        if self.scan_model is None:
            tiles = scan.tile_boxes()[: MAX_CROPS - len(regions)]
            return regions + [(box, False) for box in tiles], None
        proposals, probs, features = self._scan(prepared.pixels)
        for proposal in _round_robin(proposals):
            if len(regions) >= MAX_CROPS:
                break
            if proposal.mass.max() >= MIN_PROPOSAL_MASS and all(
                iou(proposal.box, box) <= DETECTION_OVERLAP for box, _ in regions
            ):
                regions.append((proposal.box, False))
        return regions, (probs, features)

    def _detection(
        self, box, frame, probs, features, moved, mass, categories=CATEGORIES
    ) -> Detection | None:
        """A classified region (``mass``: float32 [3] its category mass) as a detection, or None
        when none of ``categories`` reaches its mass."""
        ratio = mass / (self.needed * (self.motion_factor if moved else 1.0))
        ratio = np.where([c in categories for c in CATEGORIES], ratio, 0.0)
        c = int(ratio.argmax())
        if ratio[c] < 1.0:
            return None
        return Detection(box, CATEGORIES[c], float(mass[c]), frame, probs, features, moved)

    def locate(
        self,
        frames: Sequence[np.ndarray],
        thumbs: Sequence[np.ndarray],
        positions: Sequence[int | None],
        prepared: Sequence[Prepared] | None = None,
    ) -> Located:
        """Detections in each frame of one file.

        Args:
            frames: RGB uint8 [H, W, 3] frames of the file.
            thumbs: greyscale thumbnails (``motion.thumbnail`` of the picture rows) of the
                whole burst or video, which the frames are part of.
            positions: each frame's index in ``thumbs`` (None: no motion for that frame).
            prepared: each frame's ``prepare``, when made already (else made here).

        Returns:
            The file's ``Located``.
        """
        if prepared is None:
            prepared = [self.prepare(f, thumbs, p) for f, p in zip(frames, positions, strict=True)]
        located = Located(detections=[[] for _ in frames])
        crops, owners = [], []  # owners: (frame, box in frame coordinates, moved)
        wholes = []
        for f, (frame, ready) in enumerate(zip(frames, prepared, strict=True)):
            rows = ready.rows
            picture = frame[rows[0] : rows[1]]
            regions, whole = self._regions(ready)
            located.pictures.append(picture)
            for box, moved in regions:
                crops.append(crop(picture, box))
                owners.append((f, _to_frame(box, rows, frame.shape[0]), moved))
            if whole is not None:
                wholes.append(whole[0])
                box = _to_frame((0.0, 0.0, 1.0, 1.0), rows, frame.shape[0])
                mass = category_mass(whole[0][None])[0]
                found = self._detection(
                    box, f, whole[0], whole[1], False, mass, WHOLE_FRAME_CATEGORIES
                )
                if found is not None:
                    located.detections[f].append(found)
        masses = [category_mass(np.stack(wholes))] if wholes else []
        if crops:
            feats = self.encoder.encode(crops)
            masses.append(crop_mass(feats.probs))
            for i, (f, box, moved) in enumerate(owners):
                found = self._detection(
                    box, f, feats.probs[i], feats.features[i], moved, masses[-1][i]
                )
                if found is not None:
                    located.detections[f].append(found)
        if masses:
            located.best_mass = np.concatenate(masses).max(axis=0)
        located.detections = [_merge(d) for d in located.detections]
        return located

    def whole_view(self, located: Located) -> tuple[np.ndarray, np.ndarray] | None:
        """The file's whole pictures by the crop classifier, averaged over its frames: float32
        [1000] ImageNet probabilities and [F] L2-normalised features (None without frames).
        The species is named from them and the animal crops (``naming``)."""
        if not located.pictures:
            return None
        feats = self.encoder.encode(located.pictures)
        return (
            feats.probs.mean(axis=0).astype(np.float32),
            normalise(feats.features.mean(axis=0)).astype(np.float32),
        )


def _round_robin(proposals: Sequence[scan.Proposal]) -> list[scan.Proposal]:
    """Proposals ordered best animal, best person, best vehicle, second animal, ..."""
    per_category = [
        sorted(proposals, key=lambda p, c=c: -float(p.mass[c])) for c in range(len(CATEGORIES))
    ]
    ordered: list[scan.Proposal] = []
    for rank in range(len(proposals)):
        for ranked in per_category:
            if rank < len(ranked) and all(p is not ranked[rank] for p in ordered):
                ordered.append(ranked[rank])
    return ordered


def _merge(detections: list[Detection]) -> list[Detection]:
    """Overlapping detections as one, the strongest kept, strongest first."""
    if not detections:
        return []
    keep = nms([d.box for d in detections], [d.mass for d in detections], DETECTION_OVERLAP, 99)
    return [detections[i] for i in keep]
