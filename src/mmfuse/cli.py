"""mmfuse: folders of media in, analysed tables out (social media, screening, wildlife).

The ``mmfuse`` command line: ``main(argv)`` parses the flags and hands them to the
subcommand's module, ``mmfuse.commands.NAME`` (``add_arguments(parser)``, ``run(args)``, and
``EXAMPLES`` for its ``--help``), imported only when that subcommand runs.

Exit codes: 0 every item succeeded, 1 some items failed (each has an ``error`` cell), 2 usage
error (bad flags, missing input, unknown or uninstalled model), 3 the run stopped on an error
not about the input (one line names it; the same command resumes once it is fixed), 130
interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys

from mmfuse import __version__, config
from mmfuse.commands import examples_epilog
from mmfuse.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SYSTEMIC,
    EXIT_USAGE,
    ModelUnavailable,
    SystemicError,
    UsageError,
    is_systemic,
)

# subcommand -> one-line help; its module mmfuse.commands.<name> has add_arguments(parser) and
# run(args) -> exit code, and is imported only when that subcommand runs (startup stays fast).
COMMANDS = {
    "run": "analyse a folder or CSV: social-media, screening, wildlife (and more, see run -h)",
    "models": "list the models: role, licence, installed, weights checked",
    "transcribe": "transcribe speech in audio and video files (txt, srt, vtt, json)",
    "label": "score free-text labels for images and video frames (zero-shot)",
    "encode": "embed a folder or CSV: one row per item, embeddings to Parquet",
    "train": "train a model on your labels (many-shot) or from a few examples",
    "evaluate": "score a model against labelled items (accuracy, F1, confusion)",
    "audit": "fairness audit of a screening: selection rate per group, four-fifths rule",
    "explain": "how a screening matched one candidate's requirements, with the evidence",
    "report": "rebuild report.html from a finished run's output folder",
    "cache": "show or clear the results cache",
}

# The top-level --help's closing lines: what to run first, and the exit codes.
EPILOG = """examples:
  mmfuse run social-media posts.csv -o out/posts        # a CSV with id,text columns
  mmfuse run screening candidates/ --job job.pdf -o out/screening
  mmfuse run wildlife survey/ --species species.txt -o out/survey
  mmfuse run TASK --help                                # a task's options

exit codes: 0 all items done, 1 some items failed (see the error column),
2 usage error, 3 stopped by a problem that is not about the input, 130 interrupted"""


# Flags every command takes before or after its name: flag -> (dest, help).
COMMON_FLAGS = {
    ("-v", "--verbose"): ("verbose", "debug logging"),
    ("-q", "--quiet"): ("quiet", "warnings and errors only"),
    ("--online",): ("online", "allow hub downloads of models named by id"),
}


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that takes no abbreviated flags and names the flag meant.

    ``--topic`` is not silently read as ``--topics`` (``allow_abbrev=False``), and a flag it
    does not know is refused by the parser that read it (``mmfuse run wildlife``, not
    ``mmfuse``) with its usage and the closest flags it has: ``--speceis`` -> ``--species``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if unknown := [a for a in extras if a.startswith("-") and len(a) > 1]:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggest(unknown)}")
        return namespace, extras

    def _suggest(self, unknown: list[str]) -> str:
        known = [flag for action in self._actions for flag in action.option_strings]
        hints = []
        for flag in unknown:
            name = flag.split("=", 1)[0]
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            close += [k for k in known if k.startswith(name) and k not in close and name != k]
            if close:
                hints.append(f"{name}: did you mean {' or '.join(close[:3])}?")
        return "".join(f"\n  {hint}" for hint in hints)


def _command_module(name: str):
    return importlib.import_module(f"mmfuse.commands.{name}")


def plain_text(doc: str) -> str:
    """A docstring as ``--help`` shows it: without reStructuredText's literal quotes."""
    return doc.replace("``", "")


def _add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Gives ``parser`` and its sub-commands the common flags they do not define themselves.

    Their default is "not given", so the value from before the command name stays unless the
    flag comes after it.
    """
    for flags, (dest, help_text) in COMMON_FLAGS.items():
        if not any(flag in parser._option_string_actions for flag in flags):
            parser.add_argument(
                *flags, dest=dest, action="store_true", default=argparse.SUPPRESS, help=help_text
            )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _add_common_flags(sub)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported for its flags."""
    parser = Parser(
        prog="mmfuse",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mmfuse {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        "--online", action="store_true", help="allow hub downloads of models named by id"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if name == command:
            module = _command_module(name)
            description = plain_text(
                getattr(module, "DESCRIPTION", None) or module.__doc__ or summary
            )
            command_parser = sub.add_parser(
                name,
                help=summary,
                description=description,
                epilog=examples_epilog(getattr(module, "EXAMPLES", "")),
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            module.add_arguments(command_parser)
            _add_common_flags(command_parser)
        else:
            sub.add_parser(name, help=summary)
    return parser


def _missing_input(rest: list[str]) -> str | None:
    """``input not found: PATH`` for ``run TASK PATH …`` when PATH does not exist: checked
    before the task's modules (and torch) load, so a typo costs no time or memory."""
    positional = len(rest) >= 2 and not rest[0].startswith("-") and not rest[1].startswith("-")
    return f"input not found: {rest[1]}" if positional and not os.path.exists(rest[1]) else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        return _main(argv, command)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, even while modules load: never a traceback
        name = f"mmfuse {command}" if command in COMMANDS else "mmfuse"
        print(f"{name}: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str], command: str | None) -> int:
    """``main`` less its Ctrl-C handler: ``command`` is the first argument not a flag."""
    if command == "run" and (problem := _missing_input(argv[argv.index("run") + 1 :])):
        print(f"mmfuse run: error: {problem}", file=sys.stderr)  # before any model library
        return EXIT_USAGE
    parser = build_parser(command if command in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad flags, 0 on --help
        return int(exit_.code or 0)
    config.configure_logging(args.verbose, args.quiet)
    if args.online:
        config.allow_online()
    config.enforce_offline()
    module = _command_module(args.command)
    try:
        return module.run(args)
    except (UsageError, ModelUnavailable) as error:
        print(f"mmfuse {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (`mmfuse models | head`): not our error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # a run stopped (SystemicError), or one while models load
        if not is_systemic(error):
            raise
        named = error if isinstance(error, SystemicError) else f"{type(error).__name__}: {error}"
        print(f"mmfuse {args.command}: error: {named}", file=sys.stderr)
        return EXIT_SYSTEMIC


if __name__ == "__main__":
    sys.exit(main())
