"""(placeholder, replaced by its owner) mmfuse cache."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("mmfuse cache")
