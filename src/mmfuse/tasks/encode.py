"""Encoding: one row per item with what the frozen encoders see, embeddings to Parquet.

Columns (CSV): id, kinds, files, duration_s, language, transcript, visual_concepts,
text_chars, text_words, n_segments, n_frames, notes, error. The Parquet table also holds the
embeddings: ``text_embedding`` (384, the item's text; long documents as the mean of their
chunks), ``speech_embedding`` (384, mean of the transcript segments), ``visual_embedding``
(384, mean of images and frames, ConSE in the text space) and ``voice_embedding`` (Whisper
encoder states, mean of the segments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmfuse import __version__, registry
from mmfuse.encoders.text import TextEncoder, resolve_precision
from mmfuse.fusion.media import Decoded, EncodedMedia, MediaEncoders, decode_media
from mmfuse.registry import select_device
from mmfuse.tasks.base import Task
from mmfuse.tasks.cells import meta_columns, passed_through, rounded, visual_concepts
from mmfuse.tasks.media import MediaOptions, text_precision_option
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.types import Item, media_kind


def mean_vector(vectors: np.ndarray | None) -> np.ndarray | None:
    """The L2-normalised mean of [n, d] vectors, float32; None when there are none."""
    if vectors is None or len(vectors) == 0:
        return None
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)


@dataclass(frozen=True)
class EncodeOptions(MediaOptions):
    """Which encoders read the items (empty: the registry's default for the role)."""

    text_model: str = option("", "text encoder (default: the registry's)")
    # float32, not auto: the embeddings are the output, as close to the published model as can be
    text_precision: str = text_precision_option("float32")


@register_task("encode")
class EncodeTask(Task):
    """Runs every default encoder over an item's files; no fusion model, no heads."""

    description = """Embed a folder or CSV: one row per item with what the encoders read (kinds of
media, duration, transcript, language, visual concepts, text statistics) in results.csv, and
the embeddings (text, speech, visual, voice) in results.parquet, for your own analysis.

Input: a folder (files sharing a name form one item) or a CSV/JSONL with an id column, a
text column and/or file-path columns. Read first: kinds, transcript, visual_concepts."""
    examples = (
        "mmfuse run encode posts.csv -o out/embedded",
        "mmfuse run encode media/ -o out/embedded --text-precision bfloat16",
    )

    Options = EncodeOptions
    # manifest columns (author, brand, ...) pass through between these and "notes", "error"
    described = (
        "id",
        "kinds",
        "files",
        "duration_s",
        "language",
        "transcript",
        "visual_concepts",
        "text_chars",
        "text_words",
        "n_segments",
        "n_frames",
    )

    def __init__(self, options=None, items=(), device: str | None = None):
        super().__init__(options, items, device)
        self.text_model = self.options.text_model or registry.default_model("text")
        self.speech_model = self.options.speech_model or registry.default_model("speech")
        self.image_model = self.options.image_model or registry.default_model("image")
        self.every_s = self.options.every_s
        self.meta_columns = meta_columns(items)
        self.media: MediaEncoders | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.described, *self.meta_columns, "notes", "error")

    def settings(self) -> dict:
        return {
            "version": __version__,
            "text_model": self.text_model,
            "speech_model": self.speech_model,
            "image_model": self.image_model,
            "every_s": self.every_s,
            "text_precision": resolve_precision(
                self.options.text_precision, select_device(self.device)
            ),
        }

    def setup(self) -> None:
        text = TextEncoder(
            registry.resolve(self.text_model),
            select_device(self.device),
            precision=self.options.text_precision,
        )
        self.media = MediaEncoders(
            text, self.speech_model, self.image_model, self.every_s, self.device
        )

    def decode(self, item: Item) -> Decoded:
        return decode_media(item)

    def process(self, batch: Sequence[tuple[Item, Decoded]]) -> list[dict]:
        if self.media is None:
            self.setup()
        decoded = [d for _, d in batch]
        encoded = self.media.encode(decoded)
        texts = [d.text for d in decoded]
        text_vectors = self.media.text_encoder.encode(texts)
        return [
            self._row(item, d, e, vector)
            for (item, d), e, vector in zip(batch, encoded, text_vectors, strict=True)
        ]

    def _row(self, item: Item, decoded: Decoded, media: EncodedMedia, text_vector) -> dict:
        from mmfuse.nlp.language import detect_language

        kinds = sorted({media_kind(p) for p in item.paths} | ({"text"} if item.text else set()))
        language = media.language or (detect_language(decoded.text)[0] if decoded.text else "")
        return {
            "kinds": "+".join(k for k in kinds if k),
            "files": len(item.paths),
            "duration_s": round(media.duration, 2) if media.duration else None,
            "language": language,
            "transcript": media.transcript,
            "visual_concepts": visual_concepts(media),
            "text_chars": len(decoded.text),
            "text_words": len(decoded.text.split()),
            "n_segments": sum(len(t.segments) for _, t in media.transcripts),
            "n_frames": 0 if media.frames is None else len(media.frames),
            **passed_through(item, self.meta_columns),
            "notes": "; ".join(media.notes),
            "text_embedding": rounded(text_vector if decoded.text else None),
            "speech_embedding": rounded(mean_vector(media.speech)),
            "visual_embedding": rounded(mean_vector(media.visual)),
            "voice_embedding": rounded(mean_vector(media.voice)),
        }
