"""Run a registered task over a folder or manifest: one row per item, a summary and a report.

``mmfuse run TASK INPUT -o OUT``; ``mmfuse run --help`` lists the tasks, ``mmfuse run TASK
--help`` their options. Options come from the task's defaults, then ``--config run.toml``
(keys named like the flags, e.g. ``topics = ["travel", "food"]`` and ``batch_size = 64``),
then the flags; the resolved options are recorded in ``manifest.json``.
"""

from __future__ import annotations

import argparse
import sys

from mmfuse.commands import examples_epilog
from mmfuse.commands.arguments import (
    add_input_arguments,
    add_option_arguments,
    add_run_arguments,
    exit_code,
    items_from_args,
    resolve_options,
)
from mmfuse.errors import UsageError
from mmfuse.runner import run_task
from mmfuse.tasks.registry import get_task, task_names, task_summary

# What ``mmfuse run --help`` says above the task list.
DESCRIPTION = """Analyse a folder of media, a single file or a CSV/JSONL manifest with one of the
tasks below: one row per item in OUT/results.csv, plus a summary, report.html and manifest.json.

A folder: files that share a name form one item (post1.txt + post1.jpg), or one sub-folder
per item. A CSV: an id column, a text column (text, caption or --text-column NAME) and/or
file-path columns (image, audio, video, path, ... or --path-column NAME); other columns are
passed through. Options also come from --config run.toml (keys named like the flags)."""

EXAMPLES = """
mmfuse run social-media posts.csv -o out/posts
mmfuse run screening candidates/ --job job.pdf -o out/screening
mmfuse run wildlife survey/ --species species.txt -o out/survey
mmfuse run social-media --help             # every option of one task
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in task_names():
        task_class = get_task(name)
        summary = task_summary(name)
        sub = tasks.add_parser(
            name,
            help=summary,
            description=task_class.description or summary,
            epilog=examples_epilog("\n".join(task_class.examples)),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_input_arguments(sub)
        add_run_arguments(sub)
        add_option_arguments(sub.add_argument_group(name), task_class.Options)


def run(args: argparse.Namespace) -> int:
    task_class = get_task(args.task)
    run_options, options = resolve_options(args, task_class)
    items = items_from_args(args, task_class.group_by)
    task = task_class(options, items, run_options.device)
    items = task.run_items(items)
    if not items:  # e.g. a survey folder of notes and spreadsheets: nothing to analyse
        raise UsageError(f"no media files that {args.task} reads in {args.input}")
    return exit_code(run_task(task, items, args.out, run_options, sys.argv, source=args.input))
