"""Boxes in normalised image coordinates: overlap, suppression, merging and crops.

A box is ``(x, y, w, h)`` with the top-left corner and the size as fractions of the image's
width and height (Camtrap DP's ``bboxX, bboxY, bboxWidth, bboxHeight``), so it survives any
resizing of the image it was found on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]

# Context added around a box before it is classified, as a fraction of the box's size on each
# side: the classifier was trained on photos framing the object with some surroundings.
CONTEXT_MARGIN = 0.2
# Crops are squared up to at least this aspect ratio (short side / long side) by widening the
# short side, so a thin box does not reach the classifier squashed.
MIN_CROP_ASPECT = 0.6


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def nms(boxes: Sequence[Box], scores: Sequence[float], threshold: float, limit: int) -> list[int]:
    """Indices of the best-scoring boxes, dropping any that overlaps a kept one by more than
    ``threshold`` IoU; at most ``limit``, best first."""
    kept: list[int] = []
    for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        if all(iou(boxes[i], boxes[j]) <= threshold for j in kept):
            kept.append(int(i))
            if len(kept) == limit:
                break
    return kept


def union(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def clip(box: Box) -> Box:
    """The part of a box inside the image."""
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(1.0, box[0] + box[2]), min(1.0, box[1] + box[3])
    return (x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))


def crop(image: np.ndarray, box: Box, margin: float = CONTEXT_MARGIN) -> np.ndarray:
    """The box's pixels with ``margin`` of context on each side, squared up to
    ``MIN_CROP_ASPECT`` (in pixels), clipped to the image.

    Args:
        image: RGB uint8 [H, W, 3].
        box: normalised (x, y, w, h).
        margin: context on each side, as a fraction of the box's width and height.

    Returns:
        RGB uint8 [h, w, 3], at least 1x1.
    """
    height, width = image.shape[:2]
    bw, bh = box[2] * width * (1 + 2 * margin), box[3] * height * (1 + 2 * margin)
    long_side = max(bw, bh, 1.0)
    bw, bh = max(bw, MIN_CROP_ASPECT * long_side), max(bh, MIN_CROP_ASPECT * long_side)
    cx, cy = (box[0] + box[2] / 2) * width, (box[1] + box[3] / 2) * height
    x0, x1 = int(max(0, round(cx - bw / 2))), int(min(width, round(cx + bw / 2)))
    y0, y1 = int(max(0, round(cy - bh / 2))), int(min(height, round(cy + bh / 2)))
    return np.ascontiguousarray(image[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)])


def format_boxes(boxes: Sequence[Box]) -> str:
    """ "x y w h; x y w h" with 3 decimals: the ``boxes`` cell."""
    return "; ".join(" ".join(f"{v:.3f}" for v in box) for box in boxes)


def parse_boxes(cell: str) -> list[Box]:
    """The inverse of ``format_boxes``."""
    boxes = []
    for part in cell.split(";"):
        values = [float(v) for v in part.split()]
        if len(values) == 4:
            boxes.append((values[0], values[1], values[2], values[3]))
    return boxes
