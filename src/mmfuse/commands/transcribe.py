"""(placeholder, replaced by its owner) mmfuse transcribe."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("mmfuse transcribe")
