"""Where in a lone image an animal, a person or a vehicle may be: windows scored by category mass.

The classifier's last feature map (``forward_features``, [C, h, w], one cell per 32 pixels) is
average-pooled over square windows of several sizes; each pooled vector goes through the
classifier's own linear layer, exactly as the whole image's pooled vector does. That scores
every tile of every scale with one forward pass (a class activation map, Zhou et al. 2016,
evaluated on windows), instead of one pass per tile. Each window's ImageNet distribution gives
its probability mass on animal, person and vehicle classes (``groups.category_mass``).

Local windows are over-confident (the classifier was trained on whole images), so window scores
only propose where to look: the best proposals are cropped and classified on their own by the
caller. For image encoders without a feature map (CLIP), ``tile_boxes`` gives a fixed set of
multi-scale tiles to classify instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mmfuse.tasks.wildlife.boxes import Box, nms
from mmfuse.tasks.wildlife.groups import category_mass

# Longer side of the image scanned, in pixels (a multiple of the network's stride of 32): a
# 10 x 8 cell map for a 4:3 frame, about 1.5 times a 224 px pass.
SCAN_SIDE = 320
STRIDE = 32
# Window sizes, in cells of the map: 64 to 192 px of the scanned image (a fifth to three
# fifths of its longer side), the sizes of animals worth naming in a camera-trap frame.
WINDOW_CELLS = (2, 3, 4, 6)
# Proposals kept per category, and the overlap above which a weaker window is dropped.
PROPOSALS_PER_CATEGORY = 2
PROPOSAL_OVERLAP = 0.3
# Tiles for encoders without a feature map: a 2x2 and a 3x3 grid, half-overlapping.
TILE_GRIDS = (2, 3)


@dataclass(eq=False)
class Proposal:
    """A window worth classifying.

    Attributes:
        box: normalised (x, y, w, h).
        mass: float32 [3] its window's animal, person and vehicle mass.
    """

    box: Box
    mass: np.ndarray


def _scan_size(height: int, width: int) -> tuple[int, int]:
    """(h, w) multiples of STRIDE with the longer side SCAN_SIDE, aspect kept."""
    scale = SCAN_SIDE / max(height, width)
    return (
        max(STRIDE, round(height * scale / STRIDE) * STRIDE),
        max(STRIDE, round(width * scale / STRIDE) * STRIDE),
    )


@torch.inference_mode()
def window_masses(model, feature_map: torch.Tensor) -> tuple[list[Box], np.ndarray]:
    """Every window's category mass from one feature map.

    Args:
        model: a timm classifier with a linear ``get_classifier()``.
        feature_map: float32 [1, C, rows, cols], the model's ``forward_features`` of the image.

    Returns:
        The windows' normalised boxes and float32 [n_windows, 3] their masses.
    """
    features = feature_map[0]  # [C, rows, cols]
    classifier = model.get_classifier()
    _, rows, cols = features.shape
    boxes: list[Box] = []
    logits = []
    for size in WINDOW_CELLS:
        if size > min(rows, cols):
            continue
        pooled = torch.nn.functional.avg_pool2d(features[None], size, stride=1)[0]
        n_rows, n_cols = pooled.shape[1:]
        flat = pooled.reshape(pooled.shape[0], -1).T  # [n_rows * n_cols, C]
        logits.append(classifier(flat).float())
        boxes += [
            (c / cols, r / rows, size / cols, size / rows)
            for r in range(n_rows)
            for c in range(n_cols)
        ]
    if not logits:  # a map smaller than the smallest window: the whole image
        logits.append(classifier(features.mean(dim=(1, 2))[None]).float())
        boxes.append((0.0, 0.0, 1.0, 1.0))
    probs = torch.cat(logits).softmax(-1).cpu().numpy()
    return boxes, category_mass(probs)


def propose(boxes: list[Box], masses: np.ndarray) -> list[Proposal]:
    """The best windows per category, overlapping ones suppressed, best first."""
    chosen: dict[int, None] = {}
    for category in range(masses.shape[1]):
        for i in nms(boxes, masses[:, category], PROPOSAL_OVERLAP, PROPOSALS_PER_CATEGORY):
            chosen.setdefault(i)
    order = sorted(chosen, key=lambda i: -float(masses[i].max()))
    return [Proposal(boxes[i], masses[i]) for i in order]


def scan_pixels(image: np.ndarray, mean, std) -> torch.Tensor:
    """float32 [1, 3, h, w]: an RGB uint8 image resized for the scan and normalised."""
    import cv2

    height, width = _scan_size(*image.shape[:2])
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(resized.astype(np.float32) / 255.0).permute(2, 0, 1)
    x = (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return x[None].contiguous()


def tile_boxes() -> list[Box]:
    """Half-overlapping tiles of TILE_GRIDS: a 2x2 grid of halves, a 3x3 grid of thirds."""
    tiles: list[Box] = []
    for n in TILE_GRIDS:
        size = 2.0 / (n + 1)
        step = size / 2
        tiles += [(i * step, j * step, size, size) for j in range(n) for i in range(n)]
    return tiles
