"""Renders ``sample_data/wildlife``: a small camera-trap survey of the project's own.

    python scripts/make_wildlife_sample.py --skimage-data PATH/TO/skimage/data [--out DIR]

Two CC0 images from scikit-image's data folder (``pip download scikit-image==0.26.0``, unzip
``skimage/data``) are the raw material: ``horse.png`` (a horse silhouette, openclipart,
CC0) is painted with black and white stripes into a zebra, and ``grass.png`` (CC0,
DeviantArt "Grass-01") is the ground. Each frame gets a sky, the grass, the camera's info bar
with its time stamp, sensor noise and EXIF ``DateTimeOriginal``:

- ``savanna/cam01``: a burst of four photos of a zebra walking past (06:12), then a blank
  burst of three, with a cloud shadow drifting over the grass (14:30);
- ``savanna/cam02``: one photo of a zebra close up (18:05) and a night photo in infrared grey
  of a zebra (23:40).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SIZE = (640, 480)  # width, height of a frame
BAR = 24  # info bar height, pixels
EXIF_IFD, DATETIME_ORIGINAL = 0x8769, 0x9003


def _stripes(mask: np.ndarray, period: float, seed: int) -> np.ndarray:
    """bool [h, w]: black stripes over the horse's body, bending from vertical on the body to
    horizontal on the legs, as a zebra's do."""
    h, w = mask.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    legs = np.clip((ys / h - 0.55) / 0.2, 0, 1)  # 0 on the body, 1 low on the legs
    phase = (1 - legs) * xs + legs * ys * 1.2 + 6 * np.sin(ys / 17.0 + seed)
    return (np.sin(2 * np.pi * phase / period) > 0.1) & mask


def zebra_sprite(horse: np.ndarray, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 zebra and its bool mask, ``height`` pixels tall, from the silhouette."""
    alpha = (horse[:, :, :3].mean(axis=2) < 128) & (horse[:, :, 3] > 0)  # the black horse
    scale = height / alpha.shape[0]
    size = (round(alpha.shape[1] * scale), height)
    mask = cv2.resize(alpha.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    black = _stripes(mask, period=max(6.0, height / 14), seed=seed)
    rgb = np.full((*mask.shape, 3), 235, np.uint8)
    rgb[black] = 20
    return rgb, mask


def ground(grass: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 [H, W, 3]: a pale sky over dry grass."""
    width, height = SIZE
    tile = cv2.resize(grass, (width, height - 150), interpolation=cv2.INTER_AREA).astype(np.float32)
    dry = np.stack([tile * 0.85 + 40, tile * 0.75 + 35, tile * 0.45 + 20], axis=2)
    sky = np.linspace([170, 200, 230], [215, 225, 230], 150)[:, None, :].repeat(width, axis=1)
    frame = np.concatenate([sky, dry], axis=0)
    return np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, sprite: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Pastes ``sprite`` where ``mask`` is set, its top-left corner at (x, y), clipped."""
    h, w = mask.shape
    y0, x0 = max(0, y), max(0, x)
    y1, x1 = min(frame.shape[0], y + h), min(frame.shape[1], x + w)
    region = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    frame[y0:y1, x0:x1][region] = sprite[y0 - y : y1 - y, x0 - x : x1 - x][region]


def finish(frame: np.ndarray, when: datetime, path: Path, infrared: bool = False) -> None:
    """Adds the info bar, optionally turns the frame to infrared grey, saves it with EXIF."""
    if infrared:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        grey = cv2.convertScaleAbs(grey, alpha=0.8, beta=10)
        frame = np.repeat(grey[:, :, None], 3, axis=2)
    frame[-BAR:] = 0
    text = when.strftime("%Y-%m-%d %H:%M:%S") + "   MMFUSE-CAM   24C"
    cv2.putText(frame, text, (8, SIZE[1] - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255,) * 3, 1)
    image = Image.fromarray(frame)
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = when.strftime("%Y:%m:%d %H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=88, exif=exif)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skimage-data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "sample_data" / "wildlife" / "survey")
    args = parser.parse_args(argv)
    horse = np.asarray(Image.open(args.skimage_data / "horse.png").convert("RGBA"))
    grass = np.asarray(Image.open(args.skimage_data / "grass.png").convert("L"))
    rng = np.random.default_rng(7)
    scene = ground(grass, rng)
    cam1, cam2 = args.out / "savanna" / "cam01", args.out / "savanna" / "cam02"

    start = datetime(2024, 3, 10, 6, 12, 1)
    sprite, mask = zebra_sprite(horse, 150, seed=1)
    for i in range(4):
        frame = scene.copy()
        paste(frame, sprite, mask, 40 + 130 * i, 200)
        finish(frame, start + timedelta(seconds=i), cam1 / f"IMG_{i + 1:04d}.JPG")

    start = datetime(2024, 3, 10, 14, 30, 12)
    for i in range(3):
        frame = scene.astype(np.float32)
        shade = np.ones(frame.shape[:2], np.float32)
        shade[150:, 100 * i : 100 * i + 260] = 0.8  # a cloud shadow drifting over the grass
        frame = np.clip(frame * shade[:, :, None] + rng.normal(0, 2, frame.shape), 0, 255)
        finish(frame.astype(np.uint8), start + timedelta(seconds=i), cam1 / f"IMG_{i + 5:04d}.JPG")

    frame = scene.copy()
    sprite, mask = zebra_sprite(horse, 300, seed=2)
    paste(frame, sprite, mask, 160, 120)
    finish(frame, datetime(2024, 3, 11, 18, 5, 40), cam2 / "IMG_0001.JPG")
    frame = scene.copy()
    sprite, mask = zebra_sprite(horse, 200, seed=3)
    paste(frame, sprite[:, ::-1], mask[:, ::-1], 300, 180)
    finish(frame, datetime(2024, 3, 11, 23, 40, 2), cam2 / "IMG_0002.JPG", infrared=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
