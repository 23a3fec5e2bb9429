"""Flags shared by the batch commands: the input, the run options and a task's options.

Every flag of ``mmfuse run TASK`` is generated from an options dataclass (``RunOptions`` and
the task's ``Options``, see ``mmfuse.tasks.options``); ``resolve_options`` merges defaults <
``--config FILE`` < flags for both in one place.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmfuse import config
from mmfuse.engines.options import RunOptions
from mmfuse.errors import EXIT_OK, EXIT_PARTIAL, UsageError
from mmfuse.io.discover import GROUPINGS, MANIFEST_SUFFIXES, discover, read_manifest
from mmfuse.registry import select_device
from mmfuse.runner import RunResult
from mmfuse.tasks.options import (
    CHOICES,
    HELP,
    REQUIRED,
    base_type,
    fields_of,
    flag_of,
    read_config,
    resolve,
    unknown_keys,
)
from mmfuse.types import Item

# RunOptions fields whose flags are written by hand below (shared with the main parser).
DISPLAY_FIELDS = ("progress", "quiet", "verbose")


def read_table(path: Path, columns: tuple[str, ...]) -> list[dict]:
    """The rows of a CSV a command is given that has ``columns``; an unreadable file or a
    missing column is a usage error."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            rows = list(reader)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    missing = [c for c in columns if c not in (reader.fieldnames or ())]
    if missing:
        raise UsageError(f"{path} has no column {', '.join(map(repr, missing))}")
    return rows


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the input argument and the discovery flags shared by the run commands."""
    parser.add_argument("input", type=Path, help="a folder, a media file or a manifest")
    group = parser.add_argument_group("input")
    group.add_argument(
        "--group-by",
        choices=GROUPINGS,
        default="auto",
        help="group files into items by stem, by sub-folder or one per file (default: auto, "
        "which is the task's own: one per file for wildlife)",
    )
    group.add_argument(
        "--no-recursive", action="store_true", help="do not descend into sub-folders"
    )
    group.add_argument("--id-column", default="id", help="manifest column with item ids")
    group.add_argument("--text-column", action="append", help="manifest text column (repeatable)")
    group.add_argument(
        "--path-column", action="append", help="manifest column of file paths (repeatable)"
    )
    group.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let manifest paths leave the manifest's folder (../, absolute paths, links)",
    )


def items_from_args(args: argparse.Namespace, group_by: str = "auto") -> list[Item]:
    """The items named by the flags of ``add_input_arguments``.

    ``group_by`` is the task's own grouping for ``--group-by auto`` (a candidate is always a
    sub-folder, whatever files it holds).
    """
    if args.input.is_file() and args.input.suffix.lower() in MANIFEST_SUFFIXES:
        return read_manifest(
            args.input,
            args.id_column,
            args.text_column,
            args.path_column,
            allow_outside=args.allow_outside_paths,
        )
    grouping = group_by if args.group_by == "auto" else args.group_by
    return discover(args.input, group_by=grouping, recursive=not args.no_recursive)


def add_option_arguments(group, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One flag per field of the options dataclass ``cls``; only given flags reach the args."""
    for field, annotation in fields_of(cls):
        if field.name in skip:
            continue
        kind = base_type(annotation)
        default = field.default
        shown = ", ".join(default) if isinstance(default, tuple) else default
        help_text = field.metadata.get(HELP, "")
        required = field.metadata.get(REQUIRED)  # its default is a placeholder
        if shown not in (None, "", ()) and kind is not bool and not required:
            help_text += "" if "default:" in help_text else f" (default: {shown})"
        common = {"dest": field.name, "default": argparse.SUPPRESS, "help": help_text}
        if kind is bool:
            group.add_argument(flag_of(field), action=argparse.BooleanOptionalAction, **common)
        else:
            choices = field.metadata.get(CHOICES)
            metavar = "A,B,..." if kind is tuple else field.name.split("_")[0].upper()
            group.add_argument(flag_of(field), choices=choices, metavar=metavar, **common)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that a flag set on the command line."""
    return {f.name: getattr(args, f.name) for f, _ in fields_of(cls) if hasattr(args, f.name)}


def add_run_arguments(parser: argparse.ArgumentParser, output: bool = True) -> None:
    """Adds the output folder, ``--config`` and the run flags every batch command shares.

    ``output=False`` leaves ``-o`` to a command whose output is not the run folder.
    """
    if output:
        parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--config", type=Path, help="a TOML file of options (flags given here override it)"
    )
    group = parser.add_argument_group("run")
    add_option_arguments(group, RunOptions, skip=DISPLAY_FIELDS)
    for flag, mode, help_text in (
        ("--progress", "on", "draw the progress bar even when stderr is not a terminal"),
        ("--no-progress", "off", "no bar, and no progress line every 30 s in a log"),
    ):
        group.add_argument(
            flag,
            dest="progress",
            action="store_const",
            const=mode,
            default=argparse.SUPPRESS,
            help=help_text,
        )
    # Own dests: argparse lets a sub-command's defaults overwrite the main parser's -q/-v.
    group.add_argument("-q", "--quiet", dest="run_quiet", action="store_true", help="less output")
    group.add_argument("-v", "--verbose", dest="run_verbose", action="store_true", help="debug")


def resolve_options(args: argparse.Namespace, task_class: Any = None) -> tuple[RunOptions, Any]:
    """The run's and the task's options: defaults < ``--config`` < flags, checked once.

    Args:
        args: parsed flags of ``add_run_arguments`` (and of the task's options).
        task_class: the ``Task`` class run (its ``Options`` and its batch size on the run's
            device, which a config file or flag still overrides), or None for a command
            without one.

    Returns:
        ``(RunOptions, task options or None)``; applies -q/-v to logging and ``cache_dir`` to
        the process's cache root.
    """
    config_file = getattr(args, "config", None)
    keys = read_config(config_file) if config_file else {}
    task_options = None if task_class is None else task_class.Options
    classes = (RunOptions,) if task_options is None else (RunOptions, task_options)
    if unknown := unknown_keys(keys, *classes):
        raise UsageError(f"{config_file}: unknown option(s) {', '.join(unknown)}")
    flags = given(args, RunOptions)
    flags["quiet"] = args.run_quiet or getattr(args, "quiet", False) or keys.get("quiet", False)
    flags["verbose"] = args.run_verbose or getattr(args, "verbose", False)
    flags["verbose"] = flags["verbose"] or keys.get("verbose", False)
    run_options = resolve(RunOptions, keys, flags)
    if run_options.verbose or run_options.quiet:
        config.configure_logging(run_options.verbose, run_options.quiet)
    if run_options.device:  # a bad or missing device: one line, before any work
        select_device(run_options.device)
    if task_class is not None and "batch_size" not in keys and "batch_size" not in flags:
        batch_size = task_class.batch_size_for(select_device(run_options.device))
        run_options = replace(run_options, batch_size=batch_size)
    if run_options.cache_dir is not None:
        config.use_cache_root(run_options.cache_dir)
    if task_options is None:
        return run_options, None
    return run_options, resolve(task_options, keys, given(args, task_options))


def exit_code(result: RunResult) -> int:
    """0 when every item succeeded, else 1 after printing how many failed."""
    if result.rows_failed:
        print(
            f"{result.rows_failed} of {result.total} items failed (see the error column)",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
    return EXIT_OK
