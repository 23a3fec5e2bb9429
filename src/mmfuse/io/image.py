"""Image decoding: any still image file (or its bytes) to an RGB uint8 HxWx3 array.

Pillow does the decoding. What a user expects on top of it, done here once: the EXIF
orientation applied (phones and camera traps store pictures sideways and flag it), every colour
mode (greyscale, CMYK, palette, 16-bit, with alpha) turned into plain RGB, and each way a file
can be bad (missing, empty, not an image, truncated, corrupt, a decompression bomb, a sliver
whose sides differ more than MAX_ASPECT times) reported as one ``InputError`` line instead of a
traceback or a warning on stderr. Files are opened read-only and never modified.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmfuse.errors import InputError

# Largest image decoded, in pixels: Pillow's own default MAX_IMAGE_PIXELS (about 0.25 GiB as
# RGB uint8), above which Pillow only warns up to twice the size and raises beyond.
MAX_PIXELS = 89_478_485
# Longest side over shortest side, at most. Encoders scale the shorter side up to 224-720 px,
# so a 15 KB 60000x3 JPEG (180,000 pixels) became 5.1M x 256 px in the model's resize, about 5 GB
# (measured: 0.5 GB for 6000x3); at 100:1 that resize stays under 0.2 GB. Panoramas (about 10:1)
# and web banners (up to 12:1) pass.
MAX_ASPECT = 100
# Alpha is composited onto white, the background a viewer shows for transparent pixels.
BACKGROUND = (255, 255, 255)
# 16-bit greyscale (PNG, TIFF) to 8 bit: 65535 / 255.
UINT16_TO_UINT8 = 257.0


def load_image(path: str | Path, *, min_side: int | None = None) -> np.ndarray:
    """Reads an image file as displayed: RGB uint8 [H, W, 3], EXIF orientation applied.

    Args:
        path: the image file (any format Pillow reads; the first frame of an animation).
        min_side: when given, formats that can decode at a reduced scale (JPEG's DCT scaling)
            do so, keeping the shorter side at least this long; a speed-up for encoders that
            shrink the image anyway. None decodes at full size.

    Raises:
        InputError: missing, empty, unreadable, truncated, corrupt, larger than MAX_PIXELS, or
            more elongated than MAX_ASPECT.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a pipe that would block open()
        raise InputError(f"{path.name}: not a regular file")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path.name}: empty file")
    try:
        with open(path, "rb") as f:
            return _decode(f, path.name, min_side)
    except OSError as error:  # opening failed: decoding errors are InputErrors already
        raise InputError(f"{path.name}: cannot read: {error.strerror or error}") from None


def _decode(stream, name: str, min_side: int | None) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                check_image_size(image.size, name)
                if min_side:
                    image.draft(image.mode, _draft_size(image.size, min_side))
                image.load()
                return _to_rgb(ImageOps.exif_transpose(image))
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name}: image too large (over {MAX_PIXELS:,} pixels)") from None
    except UnidentifiedImageError:
        raise InputError(f"{name}: not an image, or a format that cannot be read") from None
    except Exception as error:
        # Pillow's format plugins report malformed data in many ways (OSError for truncated
        # data, SyntaxError for broken headers, ValueError, struct.error, IndexError in EXIF
        # parsing); every one is the file's fault. The first line of its message says what.
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{name}: cannot decode image ({message})") from None


def check_image_size(size: tuple[int, int], name: str) -> None:
    """Refuses, from the header alone (Pillow's ``Image.open`` decodes no pixel), an image that
    decoding or the encoders' resize would blow up.

    Args:
        size: (width, height), as Pillow's ``Image.size``.
        name: how the error message refers to the image.

    Raises:
        InputError: empty, over MAX_PIXELS, or more elongated than MAX_ASPECT (the message names
            the size and the limit).
    """
    width, height = size
    if width < 1 or height < 1:
        raise InputError(f"{name}: empty image ({width}x{height} pixels)")
    if width * height > MAX_PIXELS:
        raise InputError(f"{name}: image too large ({width}x{height} pixels, over {MAX_PIXELS:,})")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(
            f"{name}: image too elongated ({width}x{height} pixels, sides over {MAX_ASPECT}:1)"
        )


def _draft_size(size: tuple[int, int], min_side: int) -> tuple[int, int]:
    """The requested decode size that keeps the shorter side at least ``min_side``."""
    scale = min(1.0, min_side / min(size))
    return math.ceil(size[0] * scale), math.ceil(size[1] * scale)


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to RGB uint8 [H, W, 3]; alpha over a white background."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        grey = np.asarray(image, dtype=np.float32)
        if image.mode != "F":
            grey = grey / UINT16_TO_UINT8
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        image = Image.alpha_composite(flat, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)
