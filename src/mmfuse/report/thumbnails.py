"""Small inline JPEG thumbnails (``data:`` URIs) of images and of a video's middle frame.

A thumbnail is at most ``THUMB_PIXELS`` on its long side at ``JPEG_QUALITY``, a few kB,
so a report with a few dozen stays small enough to e-mail. Boxes (normalised
``[x, y, width, height]`` from the top left, MegaDetector's convention) are drawn on the
shrunk picture, so their lines stay crisp. A file that cannot be read gives None (the page
shows no picture).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from mmfuse.errors import InputError
from mmfuse.io.image import load_image
from mmfuse.report.page import Html, tag

THUMB_PIXELS = 240
JPEG_QUALITY = 70
BOX_COLOUR = (255, 196, 0)
BOX_PIXELS = 2  # line width of a box on the thumbnail
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})


def _video_frame(path: Path):
    """The middle frame of a video as a PIL image (OpenCV decodes; BGR becomes RGB here)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if 0 < count < 1_000_000:
            capture.set(cv2.CAP_PROP_POS_FRAMES, count // 2)
        ok, frame = capture.read()
    finally:
        capture.release()
    return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) if ok else None


def _open(path: Path):
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return _video_frame(path)
    if suffix not in IMAGE_SUFFIXES:
        return None
    # The readers' decoder: the same size checks, the EXIF orientation the boxes were found in,
    # and JPEG decoded at a lower scale.
    return Image.fromarray(load_image(path, min_side=THUMB_PIXELS * 2))


def thumbnail(path: str | Path, boxes: Sequence[Sequence[float]] = ()) -> str | None:
    """A ``data:image/jpeg;base64,...`` URI of the file (an image, or a video's middle frame),
    with ``boxes`` drawn; None for a file that is missing, not a picture or unreadable."""
    try:
        image = _open(Path(path))
    except (InputError, OSError, ValueError):
        return None
    if image is None:
        return None
    image.thumbnail((THUMB_PIXELS, THUMB_PIXELS))
    if boxes:
        draw = ImageDraw.Draw(image)
        width, height = image.size
        for x, y, w, h in boxes:
            corners = (x * width, y * height, (x + w) * width, (y + h) * height)
            draw.rectangle(corners, outline=BOX_COLOUR, width=BOX_PIXELS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def img(uri: str | None, alt: str) -> Html:
    """An ``<img>`` of a thumbnail URI (only ``data:`` URIs; empty markup for None)."""
    if not uri or not uri.startswith("data:image/"):
        return Html("")
    return Html(tag("img", "", src=uri, alt=alt).replace("></img>", ">"))
