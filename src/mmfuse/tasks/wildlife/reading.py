"""Reading a camera-trap file: its frames to analyse and the thumbnails motion is judged on.

A photo gives one frame, decoded at reduced scale (JPEG DCT scaling) since crops go to a
260 px classifier, plus the thumbnails of its burst (itself included). A video gives frames
sampled every ``every_s`` seconds (at most ``max_frames``, spread over the clip), whose
thumbnails are its own background model. Thumbnails of burst photos are kept in a small
process-wide cache, since each photo of a burst needs the same ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError
from mmfuse.io.image import load_image
from mmfuse.tasks.wildlife.locate import picture_rows
from mmfuse.tasks.wildlife.motion import thumbnail

# Shorter side a photo is decoded at, at least (a 2048x1536 JPEG decodes at 1024x768): crops of
# an animal a tenth of the frame wide still have ~100 px for the classifier.
PHOTO_MIN_SIDE = 720
# Shorter side burst photos are decoded at for their thumbnails (1/8 DCT scaling is nearly free).
THUMB_MIN_SIDE = 200
# Longer side of sampled video frames.
VIDEO_MAX_SIDE = 960
# Burst thumbnails kept (a few bursts' worth, ~80 KB each).
THUMB_CACHE_SIZE = 64


@dataclass
class FileMedia:
    """The pixels of one file.

    Attributes:
        kind: "image" or "video".
        frames: RGB uint8 [H, W, 3] frames to analyse.
        thumbs: greyscale thumbnails of the burst or video (``motion.thumbnail``).
        positions: each frame's index in ``thumbs``, None where there is nothing to compare.
        times: each frame's time in the file, seconds (0 for a photo).
    """

    kind: str
    frames: list[np.ndarray]
    thumbs: list[np.ndarray]
    positions: list[int | None]
    times: list[float]


class _ThumbCache:
    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[tuple, np.ndarray | None] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, path: Path) -> np.ndarray | None:
        """The photo's thumbnail, or None when it cannot be read."""
        try:
            info = path.stat()
        except OSError:
            return None
        key = (str(path), info.st_size, info.st_mtime_ns)
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        try:
            image = load_image(path, min_side=THUMB_MIN_SIDE)
            thumb = thumbnail(image, picture_rows(image))
        except InputError:
            thumb = None
        with self.lock:
            self.items[key] = thumb
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return thumb


_THUMBS = _ThumbCache(THUMB_CACHE_SIZE)


def read_photo(path: Path, burst: Sequence[Path]) -> FileMedia:
    """A photo and its burst's thumbnails.

    Raises:
        InputError: the photo cannot be read (its burst-mates may fail quietly).
    """
    frame = load_image(path, min_side=PHOTO_MIN_SIDE)
    own = thumbnail(frame, picture_rows(frame))
    thumbs, position = [], None
    for mate in burst:
        if mate == path:
            position = len(thumbs)
            thumbs.append(own)
            continue
        thumb = _THUMBS.get(mate)
        if thumb is not None and thumb.shape == own.shape:
            thumbs.append(thumb)
    if len(thumbs) < 2:
        return FileMedia("image", [frame], [own], [None], [0.0])
    return FileMedia("image", [frame], thumbs, [position], [0.0])


def read_video(path: Path, every_s: float, max_frames: int) -> FileMedia:
    """Frames sampled every ``every_s`` seconds, thinned to ``max_frames`` spread evenly.

    Raises:
        InputError: not a readable video.
    """
    from mmfuse.io.video import probe_video, sample_frames

    info = probe_video(path)
    step = every_s
    if info.duration and info.duration / every_s > max_frames:
        step = info.duration / max_frames
    sampled = list(sample_frames(path, step, max_frames=max_frames, max_side=VIDEO_MAX_SIDE))
    frames = [f.image for f in sampled]
    thumbs = [thumbnail(f, picture_rows(f)) for f in frames]
    positions: list[int | None] = list(range(len(frames))) if len(frames) > 1 else [None]
    return FileMedia("video", frames, thumbs, positions, [f.time for f in sampled])
