"""The few data types that travel between stages: items, media kinds, modality tokens and
transcripts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# File extensions per media kind (lowercase, with the dot).
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".text", ".caption"})
DOCUMENT_EXTENSIONS = frozenset({".pdf", ".docx"})
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".heic"}
)
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac", ".wma"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})

MEDIA_KINDS = ("text", "document", "image", "audio", "video")


def media_kind(path: str | Path) -> str | None:
    """The media kind of a file from its extension, or None for a file mmfuse does not read."""
    suffix = Path(path).suffix.lower()
    for kind, extensions in (
        ("text", TEXT_EXTENSIONS),
        ("document", DOCUMENT_EXTENSIONS),
        ("image", IMAGE_EXTENSIONS),
        ("audio", AUDIO_EXTENSIONS),
        ("video", VIDEO_EXTENSIONS),
    ):
        if suffix in extensions:
            return kind
    return None


@dataclass(frozen=True)
class Item:
    """The unit of one output row: a post, a candidate, a camera-trap file.

    Attributes:
        id: stable identifier, unique within a run (file stem, sub-folder name or manifest id).
        paths: the media files that belong to the item, sorted.
        text: inline text given by a manifest (captions, tweets); None when the text is in files.
        meta: other manifest columns (author, brand, timestamp, ...) passed through to the output.
        error: a problem found before any file was read (a manifest path outside its folder):
            the item's one-line error; "" when none.
        notes: problems of files left out of an item that still has others to read (an empty
            photo beside a caption): they go to the row's ``notes``.
    """

    id: str
    paths: tuple[Path, ...] = ()
    text: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    error: str = ""
    notes: tuple[str, ...] = ()

    def files_of(self, kind: str) -> list[Path]:
        """The item's files of one media kind, in path order."""
        return [p for p in self.paths if media_kind(p) == kind]


@dataclass
class ModalityTokens:
    """Token sequences of one modality for a batch of items.

    Attributes:
        tokens: float32 [batch, n_tokens, dim] embeddings (zeros where masked).
        mask: bool [batch, n_tokens], True where a token is present.
        times: float32 [batch, n_tokens], timestamp in seconds (or chunk index) of each token.
    """

    tokens: np.ndarray
    mask: np.ndarray
    times: np.ndarray

    @classmethod
    def stack(
        cls, sequences: list[np.ndarray | None], times: list[np.ndarray | None], dim: int
    ) -> ModalityTokens:
        """Pads per-item [n_i, dim] sequences (None for an absent modality) into one batch."""
        n_tokens = max([len(s) for s in sequences if s is not None] + [1])
        batch = len(sequences)
        tokens = np.zeros((batch, n_tokens, dim), dtype=np.float32)
        mask = np.zeros((batch, n_tokens), dtype=bool)
        stamps = np.zeros((batch, n_tokens), dtype=np.float32)
        for i, (seq, when) in enumerate(zip(sequences, times, strict=True)):
            if seq is None or len(seq) == 0:
                continue
            tokens[i, : len(seq)] = seq
            mask[i, : len(seq)] = True
            stamps[i, : len(seq)] = np.arange(len(seq)) if when is None else when
        return cls(tokens, mask, stamps)


@dataclass(frozen=True)
class Segment:
    """A stretch of speech and its text.

    Attributes:
        start: start time in seconds from the start of the audio.
        end: end time in seconds.
        text: the words, stripped.
        avg_logprob: mean log-probability of the decoded tokens (closer to 0 is surer).
        no_speech_prob: Whisper's probability that the window holds no speech.
    """

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float


@dataclass(frozen=True)
class Transcript:
    """What was said in one audio track.

    Attributes:
        language: language code ("en"); "" when there was no speech to detect it from.
        language_prob: probability of that language (1.0 when given or English-only).
        duration: length of the audio in seconds.
        segments: the speech segments in time order; empty when nothing was said.
    """

    language: str
    language_prob: float
    duration: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All segments' text joined by spaces."""
        return " ".join(s.text for s in self.segments if s.text)

    def to_dict(self) -> dict:
        """A JSON-ready dict (the segments as dicts, plus the joined text)."""
        return {**asdict(self), "text": self.text}

    @classmethod
    def from_dict(cls, data: dict) -> Transcript:
        """Inverse of ``to_dict`` (reads cached or written JSON transcripts)."""
        segments = [Segment(**s) for s in data["segments"]]
        return cls(data["language"], data["language_prob"], data["duration"], segments)
