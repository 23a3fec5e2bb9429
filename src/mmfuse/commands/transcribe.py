"""Transcribe the speech in audio and video files with Whisper (text, SRT, WebVTT or JSON).

Without -o the transcript of each file goes to stdout (a "==> FILE <==" line before each when
there are several); with -o OUT_DIR each file gives OUT_DIR/STEM.FORMAT. Folders are searched
for audio and video files. A file that cannot be read or transcribed gets a one-line error on
stderr and the others go on (exit code 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mmfuse.encoders.base import create_encoder
from mmfuse.encoders.speech import SAMPLE_RATE, SpeechEncoder
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, InputError, UsageError
from mmfuse.io.audio import load_audio
from mmfuse.io.discover import expand_files
from mmfuse.io.transcripts import WRITERS
from mmfuse.registry import default_model
from mmfuse.types import Transcript

logger = logging.getLogger(__name__)

# Model backends that implement SpeechEncoder.
SPEECH_BACKENDS = ("faster-whisper", "openai-whisper")
# Media kinds whose files carry audio.
SOUND_KINDS = ("audio", "video")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="audio or video files, or folders"
    )
    parser.add_argument(
        "--model",
        default=default_model("speech"),
        help="speech model: faster-whisper:NAME|PATH or openai-whisper:NAME|PATH "
        "(default: %(default)s; see `mmfuse models`)",
    )
    parser.add_argument(
        "--format", choices=[*WRITERS, "all"], default="txt", help="output format (default: txt)"
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="OUT_DIR",
        help="write OUT_DIR/STEM.FORMAT instead of stdout",
    )
    parser.add_argument("--language", help="language code (en, fr, ...); detected when omitted")
    parser.add_argument(
        "--no-vad", action="store_true", help="transcribe everything, without the speech detector"
    )
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")


def _check_stems(files: list[Path]) -> None:
    """Raises UsageError when two inputs would write the same OUT_DIR/STEM.FORMAT files."""
    seen: dict[str, Path] = {}
    for path in files:
        if path.stem in seen:
            raise UsageError(
                f"{seen[path.stem]} and {path} would both write {path.stem}.*; "
                "transcribe them in separate runs"
            )
        seen[path.stem] = path


def _transcribe_file(encoder: SpeechEncoder, path: Path, args: argparse.Namespace) -> Transcript:
    started = time.perf_counter()
    audio = load_audio(path, SAMPLE_RATE)
    transcript = encoder.transcribe(audio, language=args.language, vad=not args.no_vad)
    elapsed = time.perf_counter() - started
    logger.info(
        "%s: %.1f s of audio in %.1f s (%.1fx real time), language %s, %d segments",
        path,
        transcript.duration,
        elapsed,
        transcript.duration / max(elapsed, 1e-9),
        transcript.language or "-",
        len(transcript.segments),
    )
    return transcript


def _emit(transcript: Transcript, path: Path, formats: list[str], args, header: bool) -> None:
    """Writes the transcript to OUT_DIR/STEM.FORMAT files, or to stdout."""
    if args.output_dir is None:
        if header:
            print(f"==> {path} <==")
        WRITERS[formats[0]](transcript, sys.stdout)
        return
    for name in formats:
        with open(args.output_dir / f"{path.stem}.{name}", "w", encoding="utf-8") as file:
            WRITERS[name](transcript, file)


def run(args: argparse.Namespace) -> int:
    files = expand_files(args.files, SOUND_KINDS)
    formats = list(WRITERS) if args.format == "all" else [args.format]
    if args.output_dir is None and len(formats) > 1:
        raise UsageError("--format all writes several files: give -o OUT_DIR")
    if args.output_dir is not None:
        _check_stems(files)
        args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.model.partition(":")[0] not in SPEECH_BACKENDS:
        raise UsageError(
            f"'{args.model}' is not a speech model; use a {' or '.join(SPEECH_BACKENDS)} model"
        )
    encoder = create_encoder(args.model, args.device)
    try:
        encoder.check_language(args.language)
    except ValueError as error:
        raise UsageError(str(error)) from error

    failed = 0
    for path in files:
        try:
            transcript = _transcribe_file(encoder, path, args)
        except InputError as error:
            print(f"mmfuse transcribe: error: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        except Exception as error:  # one file's failure must not end the run
            logger.debug("transcription of %s failed", path, exc_info=True)
            first_line = (str(error).strip().splitlines() or [""])[0]
            print(
                f"mmfuse transcribe: error: {path}: {type(error).__name__}: {first_line}",
                file=sys.stderr,
            )
            failed += 1
            continue
        _emit(transcript, path, formats, args, header=len(files) > 1)
    return EXIT_PARTIAL if failed else EXIT_OK
