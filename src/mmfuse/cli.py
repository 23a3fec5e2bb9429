"""The ``mmfuse`` command line: one subcommand per pipeline stage, each in mmfuse.commands.

Exit codes: 0 every item succeeded, 1 some items failed (each has an ``error`` cell), 2 usage
error (bad flags, missing input, unknown or uninstalled model).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mmfuse import __version__, config
from mmfuse.registry import ModelUnavailable

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

# subcommand name -> module with add_arguments(parser) and run(args) -> exit code
COMMANDS = {
    name: f"mmfuse.commands.{name}"
    for name in ("models", "transcribe", "label", "encode", "run", "train", "evaluate", "cache")
}


class UsageError(Exception):
    """Bad flags or missing input: one line on stderr and exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmfuse", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mmfuse {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--online", action="store_true", help="allow hub downloads of models named by id"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        first_line = (module.__doc__ or "").strip().splitlines()[0]
        module.add_arguments(sub.add_parser(name, help=first_line, description=module.__doc__))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad flags, 0 on --help
        return int(exit_.code or 0)
    config.configure_logging(args.verbose, args.quiet)
    if args.online:
        config.allow_online()
    config.enforce_offline()
    module = importlib.import_module(COMMANDS[args.command])
    try:
        return module.run(args)
    except (UsageError, ModelUnavailable) as error:
        print(f"mmfuse {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
