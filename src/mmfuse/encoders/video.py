"""Video = sampled frames through an image encoder + the soundtrack through a speech encoder.

``VideoEncoder`` is not a registry backend: it composes the encoders it is given. Frames stream
from ``mmfuse.io.video.sample_frames`` and are encoded in mini-batches as they arrive, so only
their features accumulate (F x D floats), never the frames; a long video costs time, not memory.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmfuse.encoders.base import Encoder
from mmfuse.errors import InputError
from mmfuse.io.audio import load_audio
from mmfuse.io.video import VideoInfo, probe_video, sample_frames

if TYPE_CHECKING:  # heavy modules (torch); the encoders are passed in, never imported here
    from mmfuse.encoders.image import ImageEncoder, ImageFeatures
    from mmfuse.encoders.speech import SpeechEncoder
    from mmfuse.types import Transcript

logger = logging.getLogger(__name__)

# Longer side of the sampled frames, in pixels: above the 224-256 px image encoders take in, so
# their own resizing decides the detail; bounds a batch of 16 frames to at most 12 MB.
FRAME_MAX_SIDE = 512


@dataclass
class VideoFeatures:
    """What one video yields.

    Attributes:
        info: the container's metadata.
        times: float32 [F] time in seconds of each sampled frame.
        frames: the image encoder's output for the F frames, in time order (``ImageFeatures``:
            ``features`` [F, D], ``probs`` [F, 1000], ``text_space`` [F, 384]).
        transcript: the soundtrack's ``Transcript``; None when the video has no audio track, no
            speech encoder was given, or the track could not be decoded (see ``audio_error``).
        voice: float32 [n_segments, d] voice embedding per transcript segment, or None with
            ``transcript``.
        audio_error: why an existing audio track was not transcribed (one line), else None.
    """

    info: VideoInfo
    times: np.ndarray
    frames: ImageFeatures
    transcript: Transcript | None = None
    voice: np.ndarray | None = None
    audio_error: str | None = None


def _concatenate(parts: Sequence[ImageFeatures]) -> ImageFeatures:
    """Joins per-batch encoder outputs (dataclasses of [n, ...] arrays) along their first axis."""
    first = parts[0]
    if len(parts) == 1:
        return first
    joined = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts], axis=0)
        for f in dataclasses.fields(first)
    }
    return type(first)(**joined)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Groups a stream into lists of ``size`` (the last may be shorter), lazily."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class VideoEncoder(Encoder):
    """Encodes a video file's sampled frames and, optionally, its soundtrack.

    An ``Encoder`` over the image (and speech) encoder it is given: ``model_id``, ``dim`` and
    ``device`` are the image encoder's.

    Attributes:
        image_encoder: anything with ``encode(images: Sequence[RGB uint8 HxWx3]) -> ImageFeatures``
            and ``settings()``.
        speech_encoder: anything with ``transcribe(audio, language=...) -> Transcript``,
            ``embed(audio, segments) -> [n, d]`` and ``settings()``; None skips the audio.
        every_s: seconds between sampled frames.
        scene_threshold: also sample at scene changes (see ``sample_frames``); None: off.
        batch_size: frames per call of the image encoder.
        max_frames: at most this many frames per video; None: no limit.
    """

    modality = "video"

    def __init__(
        self,
        image_encoder: ImageEncoder,
        speech_encoder: SpeechEncoder | None = None,
        every_s: float = 2.0,
        scene_threshold: float | None = None,
        batch_size: int = 16,
        max_frames: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        super().__init__(image_encoder.model_id, image_encoder.dim, image_encoder.device)
        self.image_encoder = image_encoder
        self.speech_encoder = speech_encoder
        self.every_s = every_s
        self.scene_threshold = scene_threshold
        self.batch_size = batch_size
        self.max_frames = max_frames

    def settings(self) -> dict:
        """Sampling options and both encoders' settings: everything that changes the output."""
        return {
            "every_s": self.every_s,
            "scene_threshold": self.scene_threshold,
            "max_frames": self.max_frames,
            "frame_max_side": FRAME_MAX_SIDE,
            "image": self.image_encoder.settings(),
            "speech": None if self.speech_encoder is None else self.speech_encoder.settings(),
        }

    def encode(
        self, inputs: Sequence[str | Path], *, language: str | None = None
    ) -> list[VideoFeatures]:
        """``encode_file`` of each video path, one after the other (memory stays flat)."""
        return [self.encode_file(path, language=language) for path in inputs]

    def encode_file(self, path: str | Path, *, language: str | None = None) -> VideoFeatures:
        """Samples and encodes the frames, then transcribes and embeds the soundtrack.

        Args:
            path: the video file (opened read-only).
            language: the soundtrack's language code; None lets the speech encoder detect it.

        Returns:
            The frames' features with their times, and the transcript and voice embeddings.

        Raises:
            InputError: the file is missing, not a video, or none of its frames decodes.
        """
        path = Path(path)
        info = probe_video(path)
        times, frames = self._encode_frames(path)
        features = VideoFeatures(info, times, frames)
        if self.speech_encoder is None or not info.has_audio:
            return features
        try:
            audio = load_audio(path)
        except InputError as error:
            logger.warning("%s: audio track skipped: %s", path.name, error)
            features.audio_error = str(error)
            return features
        speech = self.speech_encoder.encode([audio], language=language)[0]
        features.transcript, features.voice = speech.transcript, speech.voice
        return features

    def _encode_frames(self, path: Path) -> tuple[np.ndarray, ImageFeatures]:
        """float32 [F] times and the image encoder's output for the F sampled frames."""
        times: list[float] = []
        parts = []
        stream = sample_frames(
            path, self.every_s, self.scene_threshold, self.max_frames, max_side=FRAME_MAX_SIDE
        )
        for batch in _batches(stream, self.batch_size):
            times.extend(frame.time for frame in batch)
            parts.append(self.image_encoder.encode([frame.image for frame in batch]))
        return np.asarray(times, dtype=np.float32), _concatenate(parts)
