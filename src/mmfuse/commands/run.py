"""Run a task pipeline over a folder or manifest: one row per item, a summary and a report.

``mmfuse run social-media INPUT -o OUT``: sentiment, sarcasm, emotion, topics and cross-modal
incongruity of posts (see ``mmfuse run social-media --help``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mmfuse.io.discover import add_input_arguments, items_from_args
from mmfuse.runner import add_run_arguments, exit_code, options_from_args, run_task

# pipeline name -> module with add_arguments(parser) and make_task(args, items, device)
PIPELINES = {"social-media": "mmfuse.tasks.social_media"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pipelines = parser.add_subparsers(dest="pipeline", metavar="PIPELINE", required=True)
    for name, module_name in PIPELINES.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or "").strip().splitlines()[0]
        sub = pipelines.add_parser(name, help=summary, description=summary)
        add_input_arguments(sub)
        add_run_arguments(sub)
        module.add_arguments(sub)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(PIPELINES[args.pipeline])
    options = options_from_args(args)
    items = items_from_args(args)
    task = module.make_task(args, items, options.device)
    return exit_code(run_task(task, items, args.out, options, sys.argv))
