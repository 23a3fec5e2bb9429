"""Encode a folder or manifest: one row per item (kind, duration, transcript, language, visual
concepts, text stats) in results.csv, with the embeddings in results.parquet."""

from __future__ import annotations

import argparse
import sys

from mmfuse.io.discover import add_input_arguments, items_from_args
from mmfuse.runner import add_run_arguments, exit_code, options_from_args, run_task
from mmfuse.tasks.encode import EncodeTask


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)
    add_run_arguments(parser)
    models = parser.add_argument_group("models")
    models.add_argument("--text-model", help="text encoder (default: the registry's)")
    models.add_argument("--speech-model", help="speech encoder, e.g. faster-whisper:tiny.en")
    models.add_argument("--image-model", help="image encoder, e.g. timm:tf_efficientnet_lite0")
    models.add_argument(
        "--every", type=float, default=2.0, help="seconds between sampled video frames"
    )


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    task = EncodeTask(
        args.text_model, args.speech_model, args.image_model, args.every, options.device
    )
    return exit_code(run_task(task, items_from_args(args), args.out, options, sys.argv))
