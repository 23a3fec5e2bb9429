"""Options every task that reads audio, images or video shares: its media encoders."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmfuse.errors import UsageError
from mmfuse.tasks.options import option


@dataclass(frozen=True)
class MediaOptions:
    """The speech and image encoders and the video sampling (empty: the registry's default).

    A task's options dataclass inherits these fields (``super().__post_init__()`` checks them).
    """

    speech_model: str = option(
        "", "speech encoder, e.g. faster-whisper:tiny.en (default: the registry's)"
    )
    image_model: str = option(
        "", "image encoder, e.g. open_clip:ARCH@PATH (default: the registry's)"
    )
    every_s: float = option(2.0, "seconds between sampled video frames", flag="--every")

    def __post_init__(self):
        if not math.isfinite(self.every_s) or self.every_s <= 0:
            raise UsageError(f"--every must be more than 0 seconds, not {self.every_s}")
