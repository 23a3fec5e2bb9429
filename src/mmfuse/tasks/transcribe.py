"""Transcription: the speech of each audio or video file, by Whisper, as text and timed segments.

One row per item (one audio or video file): id, file, language, language_prob, duration_s,
n_segments, text, ``segments`` (the whole transcript as JSON, ``Transcript.to_dict``) and
error. ``finish`` writes the transcripts from those final rows, never while transcribing:
``transcripts/ID.FORMAT`` in the run folder, each file atomically (``--format txt``, srt, vtt,
json or all). ``mmfuse transcribe`` then copies them to the user's folder or stdout.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mmfuse import __version__, config
from mmfuse.encoders.base import create_encoder
from mmfuse.errors import InputError, UsageError
from mmfuse.io.transcripts import WRITERS
from mmfuse.io.writers import atomic_write
from mmfuse.registry import default_model
from mmfuse.tasks.base import Task
from mmfuse.tasks.options import option
from mmfuse.tasks.registry import register_task
from mmfuse.tasks.samples import wav_bytes
from mmfuse.types import Item, Transcript, media_kind

log = logging.getLogger(__name__)

# Model backends that implement SpeechEncoder.
SPEECH_BACKENDS = ("faster-whisper", "openai-whisper")
# Media kinds whose files carry audio.
SOUND_KINDS = ("audio", "video")
# The run folder's sub-folder of transcript files.
TRANSCRIPTS = "transcripts"
# Characters kept in a transcript's file name (an item id may come from a manifest).
UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


def transcript_name(item_id: str) -> str:
    """The item's transcript path below ``transcripts/`` (no ``..``, no absolute path)."""
    parts = [UNSAFE_NAME.sub("_", part) for part in item_id.split("/")]
    parts = [part for part in parts if part.strip(". ")]
    return "/".join(parts) or "_"


def formats_of(name: str) -> list[str]:
    """The writers ``--format`` names: one, or all of them."""
    return list(WRITERS) if name == "all" else [name]


@dataclass(frozen=True)
class TranscribeOptions:
    """Which model transcribes, how, and the transcript files written."""

    model: str = option(
        default_model("speech"),
        "speech model: faster-whisper:NAME|PATH or openai-whisper:NAME|PATH (see `mmfuse models`)",
    )
    language: str | None = option(None, "language code (en, fr, ...); detected when omitted")
    vad: bool = option(True, "drop non-speech first, with the speech detector (--no-vad: all)")
    format: str = option(
        "txt",
        "transcript files written",
        choices=(*WRITERS, "all"),
        changes_no_row="only the files finish writes from the rows",
    )

    def __post_init__(self):
        if self.model.partition(":")[0] not in SPEECH_BACKENDS:
            raise UsageError(
                f"'{self.model}' is not a speech model; use a {' or '.join(SPEECH_BACKENDS)} model"
            )


@register_task("transcribe")
class TranscribeTask(Task):
    """Transcribes the one audio or video file of each item."""

    description = """\
Transcribe the speech of audio and video files with Whisper: results.csv has one
row per file (language, duration, text, timed segments as JSON) and transcripts/ one file per
input (--format txt, srt, vtt, json or all). Read first: text, language, duration_s.
(mmfuse transcribe writes the transcripts to a folder of yours or stdout.)"""
    examples = (
        "mmfuse run transcribe interviews/ -o out/transcripts --format srt",
        "mmfuse run transcribe talk.mp4 -o out/talk --model faster-whisper:tiny.en",
    )

    Options = TranscribeOptions

    @classmethod
    def example_input(cls) -> tuple[str, bytes]:
        return "good.wav", wav_bytes()

    @classmethod
    def example_options(cls) -> dict:
        return {"model": "faster-whisper:tiny.en"}

    @classmethod
    def example_model(cls, folder: Path) -> str:
        return "faster-whisper:base"

    default_batch_size = 1  # Whisper decodes one file at a time
    max_device_batch = 1
    columns = (
        "id",
        "file",
        "language",
        "language_prob",
        "duration_s",
        "n_segments",
        "text",
        "segments",
        "notes",
        "error",
    )

    def __init__(self, options=None, items: Sequence[Item] = (), device: str | None = None):
        super().__init__(options, items, device)
        self.encoder = None

    def settings(self) -> dict:
        return {
            "version": __version__,
            "model": self.options.model,
            "language": self.options.language,
            "vad": self.options.vad,
        }

    def setup(self) -> None:
        """Loads the model and checks the language against it (a UsageError when unknown)."""
        if self.encoder is not None:
            return
        encoder = create_encoder(self.options.model, self.device)
        try:
            encoder.check_language(self.options.language)
        except ValueError as error:
            raise UsageError(str(error)) from error
        self.encoder = encoder

    def decode(self, item: Item):
        """(the sound file, float32 [n] mono samples at the model's rate)."""
        from mmfuse.encoders.speech import SAMPLE_RATE
        from mmfuse.io.audio import load_audio

        files = [p for p in item.paths if media_kind(p) in SOUND_KINDS]
        if len(files) != 1:
            found = "no audio or video file" if not files else f"{len(files)} audio/video files"
            raise InputError(f"{item.id}: {found} (transcribe takes one per item)")
        return files[0], load_audio(files[0], SAMPLE_RATE)  # errors name the file

    def process(self, batch: Sequence[tuple[Item, tuple]]) -> list[dict]:
        self.setup()
        return [self._row(path, audio) for _, (path, audio) in batch]

    def _row(self, path: Path, audio) -> dict:
        options = self.options
        started = time.perf_counter()
        transcript = self.encoder.transcribe(audio, language=options.language, vad=options.vad)
        elapsed = time.perf_counter() - started
        log.info(
            "%s: %.1f s of audio in %.1f s (%.1fx real time), language %s, %d segments",
            path.name,
            transcript.duration,
            elapsed,
            transcript.duration / max(elapsed, 1e-9),
            transcript.language or "-",
            len(transcript.segments),
        )
        return {
            "file": path.name,
            "language": transcript.language,
            "language_prob": round(transcript.language_prob, 4),
            "duration_s": round(transcript.duration, 3),
            "n_segments": len(transcript.segments),
            "text": transcript.text,
            "segments": json.dumps(transcript.to_dict(), ensure_ascii=False),
        }

    def finish(self, rows: Sequence[dict], out_dir: Path) -> list[Path]:
        """``transcripts/ID.FORMAT`` per transcribed item, from the final rows."""
        written = []
        for row in rows:
            if row.get("error"):
                continue
            transcript = Transcript.from_dict(json.loads(row["segments"]))
            base = Path(out_dir) / TRANSCRIPTS / transcript_name(row["id"])
            config.make_dir(base.parent)
            for name in formats_of(self.options.format):
                path = base.with_name(f"{base.name}.{name}")
                with atomic_write(path) as stream:
                    stream.write(render(transcript, name))
                written.append(path)
        return written


def render(transcript: Transcript, name: str) -> str:
    """The transcript as the text of one format."""
    stream = io.StringIO()
    WRITERS[name](transcript, stream)
    return stream.getvalue()
