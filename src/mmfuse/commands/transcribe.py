"""Transcribe the speech in audio and video files with Whisper (text, SRT, WebVTT or JSON).

Without -o the transcript of each file goes to stdout (a "==> FILE <==" line before each when
there are several); with -o OUT_DIR each file gives OUT_DIR/STEM.FORMAT. Folders are searched
for audio and video files. A file that cannot be read or transcribed gets a one-line error on
stderr and the others go on (exit code 1).

It is the ``transcribe`` task run through the batch engine (``mmfuse run transcribe``): results
are cached, a killed run resumes, and ``--engine ray`` works. The run's own files go to
``--run-dir`` (default: under the cache root, ``CACHE/runs/transcribe-KEY``), never among
yours. An existing file in OUT_DIR is replaced only when this same run wrote it, or with
``--overwrite``; an input is never written over, and every file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmfuse.commands.arguments import add_option_arguments, resolve_options
from mmfuse.commands.files import (
    add_file_run_arguments,
    check_targets,
    items_of,
    publish,
    run_folder,
)
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, UsageError
from mmfuse.io.discover import expand_files
from mmfuse.runner import MANIFEST, run_task
from mmfuse.tasks.transcribe import (
    SOUND_KINDS,
    TRANSCRIPTS,
    TranscribeTask,
    formats_of,
    transcript_name,
)
from mmfuse.types import Item


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="audio or video files, or folders"
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="OUT_DIR",
        help="write OUT_DIR/STEM.FORMAT instead of stdout",
    )
    add_file_run_arguments(parser)
    add_option_arguments(parser.add_argument_group("transcription"), TranscribeTask.Options)


def _targets(items: list[Item], out_dir: Path, formats: list[str]) -> dict[Path, tuple]:
    """OUT_DIR/STEM.FORMAT -> (item id, the run folder's transcript file it is copied from).

    Raises:
        UsageError: two inputs would write the same OUT_DIR/STEM.FORMAT files.
    """
    seen: dict[str, str] = {}
    targets = {}
    for item in items:
        stem = item.paths[0].stem
        if stem in seen:
            raise UsageError(
                f"{seen[stem]} and {item.id} would both write {stem}.*; "
                "transcribe them in separate runs"
            )
        seen[stem] = item.id
        for name in formats:
            targets[out_dir / f"{stem}.{name}"] = (item.id, f"{transcript_name(item.id)}.{name}")
    return targets


def _report_failures(run_dir: Path, items: list[Item]) -> set[str]:
    """Prints one line per failed file; returns their ids."""
    manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    failures = {f["id"]: f["error"] for f in manifest["failures"]}
    for item in items:
        if item.id in failures:
            error = failures[item.id].removeprefix(f"{item.paths[0].name}: ")
            print(f"mmfuse transcribe: error: {item.id}: {error}", file=sys.stderr)
    return set(failures)


def run(args: argparse.Namespace) -> int:
    task_class = TranscribeTask
    run_options, options = resolve_options(args, task_class)
    items = items_of(expand_files(args.files, SOUND_KINDS))
    formats = formats_of(options.format)
    if args.output_dir is None and len(formats) > 1:
        raise UsageError("--format all writes several files: give -o OUT_DIR")
    task = task_class(options, items, run_options.device)
    run_dir = run_folder(args.run_dir, task, items, args.output_dir)
    targets = {}
    if args.output_dir is not None:
        targets = _targets(items, args.output_dir, formats)
        if args.output_dir.exists() and not args.output_dir.is_dir():
            raise UsageError(f"{args.output_dir} is not a folder")
        check_targets(list(targets), items, run_dir, run_options.overwrite)

    run_task(task, items, run_dir, run_options, sys.argv)
    failed = _report_failures(run_dir, items)
    transcripts = run_dir / TRANSCRIPTS
    if args.output_dir is not None:
        done = {t: s for t, (i, s) in targets.items() if i not in failed}
        publish({t: (transcripts / s).read_bytes() for t, s in done.items()}, run_dir)
    else:
        for item in items:
            if item.id in failed:
                continue
            if len(items) > 1:
                print(f"==> {item.id} <==")
            name = f"{transcript_name(item.id)}.{formats[0]}"
            sys.stdout.write((transcripts / name).read_text(encoding="utf-8"))
        sys.stdout.flush()
    return EXIT_PARTIAL if failed else EXIT_OK


# ``mmfuse transcribe --help``: the text (the module docstring is for developers) and examples.
DESCRIPTION = """\
Transcribe the speech in audio and video files with Whisper (text, SRT, WebVTT or JSON).

Without -o, each file's transcript goes to stdout (a "==> FILE <==" line before each when there
are several); with -o OUT_DIR, each file gives OUT_DIR/STEM.FORMAT. Folders are searched for
audio and video files. A file that cannot be read or transcribed gets a one-line error and the
others go on (exit code 1). Results are cached and a killed run resumes: the run's own files
go to --run-dir (default: under the cache folder), never among yours, and an existing file in
OUT_DIR is replaced only when this same command wrote it, or with --overwrite."""

EXAMPLES = """
mmfuse transcribe interview.mp4                       # the text to stdout
mmfuse transcribe recordings/ --format srt -o subtitles/
mmfuse transcribe talk.wav --model faster-whisper:tiny.en --language en --format all -o out/
"""
