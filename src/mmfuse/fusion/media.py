"""An item's media, read and encoded: the stage every task shares before its own heads.

``decode_media(item)`` reads files (worker threads, no model): text and documents joined,
images decoded, audio decoded to 16 kHz; videos are only probed here and streamed frame by
frame at encode time, so memory never holds a whole video. ``MediaEncoders.encode(batch)``
runs the frozen encoders, batched across items, and returns per item its transcripts, the
transcript segments embedded in the text space, the voice embeddings, and one text-space
vector per image or sampled frame (with its ImageNet probabilities for visual concepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmfuse.errors import InputError
from mmfuse.io.documents import read_document
from mmfuse.types import Item, Segment, Transcript

# Joins an item's text parts (inline text, then text files and documents in path order).
PART_SEPARATOR = "\n\n"
# Shorter side images are decoded at, at least: the encoders resize to 224-256 px anyway.
IMAGE_MIN_SIDE = 256
# Images per call of the image encoder (bounds decoded pixels in flight to ~100 MB).
IMAGE_CHUNK = 32


@dataclass
class Decoded:
    """An item's files in memory (picklable; no model has run).

    Attributes:
        text: inline text, text files and documents, joined by blank lines ("" when none).
        images: (file name, RGB uint8 [H, W, 3]) per image file.
        audio: (file name, float32 [n] 16 kHz mono) per audio file.
        videos: paths of video files, streamed when encoded.
    """

    text: str = ""
    images: list[tuple[str, np.ndarray]] = field(default_factory=list)
    audio: list[tuple[str, np.ndarray]] = field(default_factory=list)
    videos: list[Path] = field(default_factory=list)

    @property
    def has_media(self) -> bool:
        return bool(self.images or self.audio or self.videos)


def join_text(parts: Sequence[str]) -> str:
    """Text parts, stripped, separated by blank lines."""
    return PART_SEPARATOR.join(p.strip() for p in parts if p and p.strip())


def decode_media(
    item: Item, kinds: Sequence[str] = ("text", "document", "image", "audio", "video")
):
    """Reads an item's files of the given kinds.

    Raises:
        InputError: a file that cannot be read, or an item with nothing of these kinds.
    """
    from mmfuse.io.audio import load_audio
    from mmfuse.io.image import load_image
    from mmfuse.io.video import probe_video

    parts = [item.text] if item.text else []
    for kind in ("text", "document"):
        if kind in kinds:
            parts += [read_document(p) for p in item.files_of(kind)]
    decoded = Decoded(text=join_text(parts))
    if "image" in kinds:
        decoded.images = [
            (p.name, load_image(p, min_side=IMAGE_MIN_SIDE)) for p in item.files_of("image")
        ]
    if "audio" in kinds:
        decoded.audio = [(p.name, load_audio(p)) for p in item.files_of("audio")]
    if "video" in kinds:
        for path in item.files_of("video"):
            try:
                probe_video(path)  # a file that is no video fails here, in the worker pool
            except InputError as no_video:
                if "audio" not in kinds:
                    raise
                try:  # an audio-only container (a voice note saved as .mp4) is audio
                    decoded.audio.append((path.name, load_audio(path)))
                except InputError:
                    raise no_video from None
                continue
            decoded.videos.append(path)
    if not decoded.text and not decoded.has_media:
        raise InputError(f"item '{item.id}' has no {' or '.join(kinds)} to read")
    return decoded


@dataclass
class EncodedMedia:
    """What the encoders made of an item's audio, images and videos.

    Attributes:
        transcripts: (file name, Transcript) per audio file and per video with a soundtrack.
        speech: float32 [S, 384] text-space embedding of each transcript segment.
        speech_times: float32 [S] start time of each segment in its file.
        voice: float32 [S, d] voice embedding of each segment (Whisper encoder states), or None.
        images: float32 [I, 384] text-space (ConSE) vector of each image.
        frames: float32 [F, 384] text-space vector of each sampled video frame.
        frame_times: float32 [F] frame time in seconds in its video.
        visual_probs: float32 [I + F, 1000] ImageNet probabilities of images, then frames.
        duration: total seconds of audio and video (0 when none).
        notes: non-fatal remarks, e.g. "clip.mp4: no audio track".
    """

    transcripts: list[tuple[str, Transcript]] = field(default_factory=list)
    speech: np.ndarray | None = None
    speech_times: np.ndarray | None = None
    voice: np.ndarray | None = None
    images: np.ndarray | None = None
    frames: np.ndarray | None = None
    frame_times: np.ndarray | None = None
    visual_probs: np.ndarray | None = None
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def visual(self) -> np.ndarray | None:
        """float32 [I + F, 384]: images, then frames (None when neither)."""
        parts = [v for v in (self.images, self.frames) if v is not None]
        return np.concatenate(parts) if parts else None

    @property
    def transcript(self) -> str:
        """All transcripts' text, in file order."""
        return join_text([t.text for _, t in self.transcripts])

    @property
    def language(self) -> str:
        """The spoken language of the longest transcript ("" when nothing was said)."""
        spoken = [t for _, t in self.transcripts if t.segments]
        return max(spoken, key=lambda t: t.duration).language if spoken else ""


def _stack(rows: list[np.ndarray], dim: int) -> np.ndarray:
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)


class MediaEncoders:
    """The frozen encoders an item's media needs, created on first use.

    Args:
        text_encoder: the sentence encoder (the shared space); anything with ``encode``.
        speech_model: ``backend:name`` of the speech model.
        image_model: ``backend:name`` of the image model.
        every_s: seconds between sampled video frames.
        device: encoder device (None: automatic).
    """

    def __init__(
        self,
        text_encoder,
        speech_model: str,
        image_model: str,
        every_s: float = 2.0,
        device: str | None = None,
    ):
        self.text_encoder = text_encoder
        self.speech_model = speech_model
        self.image_model = image_model
        self.every_s = every_s
        self.device = device
        self._speech = self._image = None

    def settings(self) -> dict:
        """What changes the outputs besides the media (model ids and sampling)."""
        return {"speech": self.speech_model, "image": self.image_model, "every_s": self.every_s}

    @property
    def speech(self):
        """The speech encoder; None without a speech model (soundtracks are then skipped)."""
        if self._speech is None and self.speech_model:
            from mmfuse.encoders.base import create_encoder

            self._speech = create_encoder(self.speech_model, self.device)
        return self._speech

    @property
    def image(self):
        if self._image is None:
            from mmfuse.encoders.base import create_encoder

            self._image = create_encoder(self.image_model, self.device)
        return self._image

    def encode(self, batch: Sequence[Decoded]) -> list[EncodedMedia]:
        """One ``EncodedMedia`` per decoded item; images batched across items."""
        results = [EncodedMedia() for _ in batch]
        self._encode_images(batch, results)
        for decoded, result in zip(batch, results, strict=True):
            spoken: list[tuple[str, Transcript, np.ndarray | None]] = []
            for name, audio in decoded.audio:
                speech = self.speech.encode([audio])[0]
                spoken.append((name, speech.transcript, speech.voice))
                result.duration += len(audio) / 16000
            for path in decoded.videos:
                spoken += self._encode_video(path, result)
            for name, transcript, _ in spoken:
                result.transcripts.append((name, transcript))
                if not transcript.segments:
                    result.notes.append(f"{name}: no speech detected")
            self._embed_speech(spoken, result)
        return results

    def _encode_images(self, batch: Sequence[Decoded], results: list[EncodedMedia]) -> None:
        flat = [(i, image) for i, d in enumerate(batch) for _, image in d.images]
        if not flat:
            return
        parts = [
            self.image.encode([image for _, image in flat[s : s + IMAGE_CHUNK]])
            for s in range(0, len(flat), IMAGE_CHUNK)
        ]
        space = np.concatenate([p.text_space for p in parts])
        probs = np.concatenate([p.probs for p in parts])
        owners = np.array([i for i, _ in flat])
        for i, result in enumerate(results):
            mine = owners == i
            if mine.any():
                result.images, result.visual_probs = space[mine], probs[mine]

    def _encode_video(self, path: Path, result: EncodedMedia):
        from mmfuse.encoders.video import VideoEncoder

        video = VideoEncoder(self.image, self.speech, every_s=self.every_s).encode_file(path)
        result.duration += video.info.duration or float(video.times[-1] if len(video.times) else 0)
        result.frames = _join(result.frames, video.frames.text_space)
        result.visual_probs = _join(result.visual_probs, video.frames.probs)
        result.frame_times = _join(result.frame_times, video.times)
        if video.transcript is None:
            result.notes.append(f"{path.name}: {video.audio_error or 'no audio track'}")
            return []
        return [(path.name, video.transcript, video.voice)]

    def _embed_speech(self, spoken, result: EncodedMedia) -> None:
        segments: list[Segment] = [s for _, t, _ in spoken for s in t.segments]
        if not segments:
            return
        result.speech = self.text_encoder.encode([s.text.strip() for s in segments])
        result.speech_times = np.array([s.start for s in segments], np.float32)
        voices = [v for _, t, v in spoken if t.segments and v is not None]
        result.voice = _stack(voices, voices[0].shape[-1]) if voices else None


def _join(first: np.ndarray | None, second: np.ndarray) -> np.ndarray:
    return second if first is None else np.concatenate([first, second])
