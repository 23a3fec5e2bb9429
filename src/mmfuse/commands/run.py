"""Run a registered task over a folder or manifest: one row per item, a summary and a report.

``mmfuse run TASK INPUT -o OUT``; ``mmfuse run --help`` lists the tasks, ``mmfuse run TASK
--help`` their options. Options come from the task's defaults, then ``--config run.toml``
(keys named like the flags, e.g. ``topics = ["travel", "food"]`` and ``batch_size = 64``),
then the flags; the resolved options are recorded in ``manifest.json``.
"""

from __future__ import annotations

import argparse
import sys

from mmfuse.commands.arguments import (
    add_input_arguments,
    add_option_arguments,
    add_run_arguments,
    exit_code,
    items_from_args,
    resolve_options,
)
from mmfuse.runner import run_task
from mmfuse.tasks.registry import get_task, task_names, task_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in task_names():
        summary = task_summary(name)
        sub = tasks.add_parser(name, help=summary, description=summary)
        add_input_arguments(sub)
        add_run_arguments(sub)
        add_option_arguments(sub.add_argument_group(name), get_task(name).Options)


def run(args: argparse.Namespace) -> int:
    task_class = get_task(args.task)
    run_options, options = resolve_options(args, task_class)
    items = items_from_args(args, task_class.group_by)
    task = task_class(options, items, run_options.device)
    items = task.run_items(items)
    return exit_code(run_task(task, items, args.out, run_options, sys.argv, source=args.input))
