"""Transcript writers: plain text, SubRip (.srt), WebVTT (.vtt) and JSON.

Each writer takes a ``Transcript`` and a text stream (an open file or ``io.StringIO``), as
openai-whisper's ``ResultWriter.write_result(result, file)`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mmfuse.types import Transcript

# A cue's text may not contain the arrow that separates cue times (SRT and WebVTT alike).
CUE_ARROW = "-->"


def format_timestamp(seconds: float, decimal_marker: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT; WebVTT uses "." as the marker), rounded to the millisecond."""
    milliseconds = max(0, round(seconds * 1000))
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{milliseconds:03d}"


def _cue_text(text: str) -> str:
    return text.replace(CUE_ARROW, "->").strip()


def write_txt(transcript: Transcript, file: TextIO) -> None:
    """One line per segment."""
    for segment in transcript.segments:
        print(segment.text.strip(), file=file)


def write_srt(transcript: Transcript, file: TextIO) -> None:
    """SubRip: numbered cues from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank line after each."""
    for index, segment in enumerate(transcript.segments, start=1):
        start, end = format_timestamp(segment.start), format_timestamp(segment.end)
        print(f"{index}\n{start} --> {end}\n{_cue_text(segment.text)}\n", file=file)


def write_vtt(transcript: Transcript, file: TextIO) -> None:
    """WebVTT: the ``WEBVTT`` header, then cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm``."""
    print("WEBVTT\n", file=file)
    for segment in transcript.segments:
        start, end = format_timestamp(segment.start, "."), format_timestamp(segment.end, ".")
        print(f"{start} --> {end}\n{_cue_text(segment.text)}\n", file=file)


def write_json(transcript: Transcript, file: TextIO) -> None:
    """The transcript as one JSON object (``Transcript.to_dict``; ``from_dict`` reads it back)."""
    json.dump(transcript.to_dict(), file, ensure_ascii=False, indent=2)
    print(file=file)


# format name (and file extension) -> writer
WRITERS: dict[str, Callable[[Transcript, TextIO], None]] = {
    "txt": write_txt,
    "srt": write_srt,
    "vtt": write_vtt,
    "json": write_json,
}
