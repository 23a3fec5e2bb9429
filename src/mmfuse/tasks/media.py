"""Options every task that reads audio, images, video or text shares, each declared once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mmfuse.encoders.text import PRECISIONS
from mmfuse.errors import UsageError
from mmfuse.tasks.options import option

# Seconds between sampled video frames: every task's default but wildlife's, whose camera-trap
# clips last seconds and whose animals may cross the frame in one (it samples every second).
EVERY_S = 2.0


def every_option(default: float = EVERY_S) -> Any:
    """The ``--every`` option (field ``every_s``); check it with ``check_every``."""
    return option(default, "seconds between sampled video frames", flag="--every")


def check_every(every_s: float) -> None:
    """A usage error unless ``every_s`` is a finite number of seconds above 0."""
    if not math.isfinite(every_s) or every_s <= 0:
        raise UsageError(f"--every must be more than 0 seconds, not {every_s}")


def text_precision_option(default: str = "auto") -> Any:
    """The ``--text-precision`` option of every task that runs the sentence encoder: "auto"
    but where a task says why not."""
    return option(
        default,
        "sentence encoder precision: auto is bfloat16 where the hardware multiplies it "
        "natively (CPUs with AVX512-BF16 or AMX, CUDA), about 1.5x faster, else float32; "
        "int8 quantises on the CPU; an item's scores never depend on its batch either way",
        choices=PRECISIONS,
    )


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
    every_s: float = every_option()

    def __post_init__(self):
        check_every(self.every_s)
