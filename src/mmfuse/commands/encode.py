"""Encode a folder or manifest: one row per item (kind, duration, transcript, language, visual
concepts, text stats) in results.csv, with the embeddings in results.parquet.

The same as ``mmfuse run encode``."""

from __future__ import annotations

import argparse

from mmfuse.commands import run as run_command
from mmfuse.commands.arguments import add_input_arguments, add_option_arguments, add_run_arguments
from mmfuse.tasks.encode import EncodeTask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_run_arguments(parser)
    add_option_arguments(parser.add_argument_group("models"), EncodeTask.Options)
    parser.set_defaults(task="encode")


def run(args: argparse.Namespace) -> int:
    return run_command.run(args)


# Shown at the end of ``mmfuse encode --help``.
EXAMPLES = """
mmfuse encode posts.csv -o out/embedded          # a CSV with id and text (or file) columns
mmfuse encode media/ -o out/embedded --text-precision bfloat16
"""
