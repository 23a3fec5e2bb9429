"""Rank free-text labels for images and videos, zero-shot (no training, any label set).

Each image gives one row. Each video gives one row per sampled frame (every --every seconds,
its time in the ``time`` column) and then one row for the whole video, the mean of its frames'
probabilities (``time`` empty, ``frames`` the number averaged). Columns: file, time, frames,
top_label, top_prob, top_labels (the --top-k best as "label:prob; ..."), one ``p_LABEL``
probability column per label, and error. A file that cannot be read gets a row with its
one-line ``error`` and the others go on (exit code 1). Folders are searched for images and
videos. Labels are comma-separated, or ``@FILE`` for one label per line.

It is the ``label`` task run through the batch engine (``mmfuse run label``: one row per file
with the frame rows inside, from which this table is expanded): results are cached, a killed
run resumes, and ``--engine ray`` works. The run's own files go to ``--run-dir`` (default:
under the cache root, ``CACHE/runs/label-KEY``); ``-o`` is replaced only when this same run
wrote it, or with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from mmfuse.commands.arguments import add_option_arguments, exit_code, resolve_options
from mmfuse.commands.files import (
    add_file_run_arguments,
    check_targets,
    items_of,
    publish,
    run_folder,
)
from mmfuse.io.discover import expand_files
from mmfuse.runner import run_task
from mmfuse.tasks.label import FIXED_COLUMNS, LABELS_CSV, LabelTask

__all__ = ["FIXED_COLUMNS", "add_arguments", "run"]

# Media kinds this command reads.
LABEL_KINDS = ("image", "video")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="image or video files, or folders"
    )
    parser.add_argument("-o", "--output", type=Path, help="write the CSV here instead of stdout")
    add_file_run_arguments(parser)
    add_option_arguments(parser.add_argument_group("labels"), LabelTask.Options)


def run(args: argparse.Namespace) -> int:
    run_options, options = resolve_options(args, LabelTask)
    items = items_of(expand_files(args.files, LABEL_KINDS))
    task = LabelTask(options, items, run_options.device)
    task.file_names = {str(item.paths[0]): item.id for item in items}
    run_dir = run_folder(args.run_dir, task, items, args.output)
    if args.output is not None:
        check_targets([args.output], items, run_dir, run_options.overwrite)
    result = run_task(task, items, run_dir, run_options, sys.argv)
    if args.output is None:
        with open(run_dir / LABELS_CSV, encoding="utf-8-sig", newline="") as table:  # no BOM
            shutil.copyfileobj(table, sys.stdout)
        sys.stdout.flush()
    else:
        publish({args.output: (run_dir / LABELS_CSV).read_bytes()}, run_dir)
    return exit_code(result)


# ``mmfuse label --help``: the text (the module docstring is for developers) and examples.
DESCRIPTION = """\
Score free-text labels for images and videos, zero-shot (no training, any label set).

Each image gives one row. Each video gives one row per sampled frame (every --every seconds,
its time in the time column) and one row for the whole video, the mean of its frames. Columns:
file, time, frames, top_label, top_prob, top_labels (the --top-k best as "label:prob; ..."),
one p_LABEL column per label, and error. A file that cannot be read gets a row with its error
and the others go on (exit code 1). Folders are searched for images and videos. Labels are
comma-separated, or @FILE for one a line. Results are cached and a killed run resumes (the
run's own files go to --run-dir); -o is replaced only when this same command wrote it, or
with --overwrite."""

EXAMPLES = """
mmfuse label photos/ --labels "cat,dog,a red car"                  # the table to stdout
mmfuse label photos/ clip.mp4 --labels @labels.txt --top-k 5 -o labels.csv
"""
