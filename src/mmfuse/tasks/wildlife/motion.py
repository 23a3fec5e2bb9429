"""Motion boxes: what moved in one frame of a burst (or a video) against the others.

A camera trap fires a burst of photos, or a clip, when something warm moves; most of the scene
stays put. The background is the per-pixel median of the burst's greyscale thumbnails, so an
animal that moves between frames leaves it; what differs from it in the frame at hand, by more
than that pixel's usual flicker, is motion. On top of the plain difference:

- illumination: each frame is scaled to the background's median brightness first (clouds, the
  sun, an infrared flash of another strength), and a frame where most of the scene "moved" is a
  lighting change, not an animal;
- vegetation: a pixel's threshold grows with its median difference over the whole burst, so
  grass and leaves that move in every frame do not count, while an animal that passes once does;
- noise: thumbnails are blurred, tiny specks removed, and nearby parts joined into one box.

Input frames are thumbnails (``thumbnail``); boxes come back normalised (``boxes.Box``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mmfuse.tasks.wildlife.boxes import Box

# Longer side of the thumbnails compared, in pixels: enough for a squirrel at 20 m (about 10x15
# px of a 320 px thumbnail of a 640 px frame), small enough that a burst of 10 costs ~1 MB.
THUMBNAIL_SIDE = 320
# Gaussian blur of each thumbnail (pixels): JPEG and sensor noise average out.
BLUR_SIZE = 5
# A pixel moved when it differs from the background by more than MIN_DIFFERENCE grey levels and
# by more than FLICKER_FACTOR times its median difference over the burst (vegetation).
MIN_DIFFERENCE = 18.0
FLICKER_FACTOR = 3.0
# A frame whose moving share exceeds this changed in lighting, not in content.
MAX_MOVING_SHARE = 0.4
# Parts closer than this (pixels of the thumbnail) are one animal (legs, head, tail).
JOIN_DISTANCE = 7
# Smallest box kept, as a share of the frame's area (a few thumbnail pixels are noise).
MIN_AREA = 0.0004
# At most this many boxes per frame, the strongest first.
MAX_BOXES = 5


def thumbnail(image: np.ndarray, rows: tuple[int, int] | None = None) -> np.ndarray:
    """A greyscale uint8 thumbnail whose size depends only on the frame's size, so the
    thumbnails of one camera's frames line up whatever rows each keeps.

    Args:
        image: RGB uint8 [H, W, 3].
        rows: when given, only rows ``rows[0]:rows[1]`` (the picture without info bars),
            stretched to the thumbnail's full height.
    """
    height, width = image.shape[:2]
    scale = min(1.0, THUMBNAIL_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if rows is not None:
        image = image[rows[0] : rows[1]]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _prepare(frames: Sequence[np.ndarray]) -> np.ndarray:
    """float32 [N, h, w]: blurred, each scaled to the burst's median brightness."""
    stack = np.stack(
        [cv2.GaussianBlur(f, (BLUR_SIZE, BLUR_SIZE), 0).astype(np.float32) for f in frames]
    )
    levels = np.median(stack.reshape(len(stack), -1), axis=1)  # [N]
    target = float(np.median(levels))
    gains = target / np.maximum(levels, 1.0)
    return stack * gains[:, None, None]


def moving_mask(frames: Sequence[np.ndarray], index: int) -> np.ndarray | None:
    """bool [h, w]: the pixels of ``frames[index]`` that moved, or None when it cannot be told
    (fewer than two frames, sizes that differ, or a lighting change).

    Args:
        frames: greyscale uint8 [h, w] thumbnails of one burst, all the same size.
        index: which frame to look at.
    """
    if len(frames) < 2 or any(f.shape != frames[0].shape for f in frames):
        return None
    stack = _prepare(frames)
    background = np.median(stack, axis=0)  # [h, w]
    differences = np.abs(stack - background)  # [N, h, w]
    flicker = np.median(differences, axis=0)
    threshold = np.maximum(MIN_DIFFERENCE, FLICKER_FACTOR * flicker)
    mask = differences[index] > threshold
    if mask.mean() > MAX_MOVING_SHARE:
        return None
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    return mask.astype(bool)


def motion_boxes(frames: Sequence[np.ndarray], index: int) -> list[tuple[Box, float]]:
    """The boxes of what moved in ``frames[index]`` and their strength (moving pixels).

    Args:
        frames: greyscale uint8 [h, w] thumbnails of one burst (``thumbnail``), same size.
        index: which frame to look at.

    Returns:
        Up to MAX_BOXES (normalised box, strength), strongest first; [] when nothing moved or
        motion cannot be told.
    """
    mask = moving_mask(frames, index)
    if mask is None or not mask.any():
        return []
    height, width = mask.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (JOIN_DISTANCE, JOIN_DISTANCE))
    joined = cv2.dilate(mask.astype(np.uint8), kernel)
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    found: list[tuple[Box, float]] = []
    for label in range(1, count):
        ys, xs = np.nonzero((labels == label) & mask)
        if len(xs) == 0:
            continue
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        box = (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)
        if box[2] * box[3] < MIN_AREA:
            continue
        found.append((box, float(len(xs))))
    found.sort(key=lambda pair: -pair[1])
    return found[:MAX_BOXES]
