"""Typed options: frozen dataclasses whose fields carry their help, merged from three sources.

A task (and the run itself) declares its options once, as a ``@dataclass(frozen=True)`` whose
fields are made with ``option(default, help)``. The command line's flags, the keys of a
``--config run.toml`` file and the run manifest's record all come from that one declaration,
and ``resolve`` merges **defaults < config file < flags** in one place, so a run can be
repeated from its manifest. Every option keys the run (its identity and each row's cache key,
``mmfuse.runner``), so none can be forgotten; one that changes no row says why
(``option(..., changes_no_row=REASON)``) and keys only the run's identity. Values are checked
once, here and in the dataclass's ``__post_init__``; a bad one is a ``UsageError``.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Path``, ``Path | None``,
``str | None`` and ``tuple[str, ...]`` (comma-separated on the command line, a list or a
comma-separated string in TOML).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from mmfuse.errors import UsageError

# Keys of a field's metadata.
HELP, FLAG, CHOICES, REQUIRED = "help", "flag", "choices", "required"
CHANGES_NO_ROW = "changes_no_row"


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    required: bool = False,
    changes_no_row: str = "",
) -> Any:
    """A dataclass field with its command-line help (and flag name, when not ``--field-name``).

    Args:
        default: the value when neither a config file nor a flag sets it.
        help: one line for ``--help``.
        flag: the flag, e.g. "--every" for a field ``every_s``.
        choices: the allowed values of a ``str`` option.
        required: must come from a flag or the config file (the default is then a placeholder).
        changes_no_row: why no row depends on this option (only what ``finish`` writes, or
            where); it is then left out of the rows' cache key, not out of the run's identity.
    """
    metadata = {
        HELP: help,
        FLAG: flag,
        CHOICES: choices,
        REQUIRED: required,
        CHANGES_NO_ROW: changes_no_row,
    }
    if isinstance(default, list | dict | set):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=metadata)


def fields_of(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The dataclass's fields with their resolved types."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def flag_of(field: dataclasses.Field) -> str:
    """The field's command-line flag: ``--field-name`` unless the option names another."""
    return field.metadata.get(FLAG) or "--" + field.name.replace("_", "-")


def base_type(annotation: Any) -> Any:
    """``Path`` for ``Path | None``, ``tuple`` for ``tuple[str, ...]``, else the type itself."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return typing.get_origin(annotation) or annotation


def convert(value: Any, annotation: Any, name: str) -> Any:
    """``value`` (from TOML or a flag's text) as the field's type; UsageError when it is not."""
    kind = base_type(annotation)
    optional = isinstance(annotation, types.UnionType) and type(None) in annotation.__args__
    if value is None or (optional and value == ""):
        if optional:
            return None
        raise UsageError(f"option {name!r} needs a value")
    try:
        if kind is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in items if str(v).strip())
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is Path:
            return Path(value).expanduser()
        if kind is int and isinstance(value, float | bool):
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"option {name!r}: {value!r} is not a valid {kind.__name__}") from None


def read_config(path: Path) -> dict[str, Any]:
    """The keys of a TOML config file, with dashes in key names read as underscores."""
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"cannot read config file {path}: {error}") from None
    return {key.replace("-", "_"): value for key, value in data.items()}


def resolve(cls: type, config: dict[str, Any], flags: dict[str, Any]) -> Any:
    """The options of ``cls``: its defaults, then the config file's keys, then the flags given.

    Args:
        cls: an options dataclass (fields made with ``option``).
        config: keys from ``read_config``; those that are not fields of ``cls`` are ignored
            here (the caller checks that every key belongs to some options class).
        flags: field name -> value, only for the flags the user gave.

    Raises:
        UsageError: a value of the wrong type or choice, a number that is not finite (nan,
            inf), a required option unset, or what the class's own ``__post_init__`` refuses.
    """
    values = {}
    for field, annotation in fields_of(cls):
        if field.name in flags:
            value = flags[field.name]
        elif field.name in config:
            value = config[field.name]
        elif field.metadata.get(REQUIRED):
            raise UsageError(f"{flag_of(field)} is required (or set {field.name} in --config)")
        else:
            continue
        value = convert(value, annotation, field.name)
        if isinstance(value, float) and not math.isfinite(value):  # "nan", "inf", TOML's nan
            raise UsageError(f"{flag_of(field)} must be a finite number, not {value}")
        choices = field.metadata.get(CHOICES)
        if choices and value not in choices:
            raise UsageError(f"option {field.name!r}: {value!r} is not one of {choices}")
        values[field.name] = value
    return cls(**values)


def unknown_keys(config: dict[str, Any], *classes: type) -> list[str]:
    """Config keys that are not an option of any of ``classes``."""
    known = {f.name for cls in classes for f in dataclasses.fields(cls)}
    return sorted(set(config) - known)


def to_record(options: Any) -> dict[str, Any]:
    """The options as JSON- and TOML-ready values (paths as text, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(options, f.name)) for f in dataclasses.fields(options)}


def row_record(options: Any) -> dict[str, Any]:
    """``to_record`` of the options a row depends on: all but those marked ``changes_no_row``."""
    record = to_record(options)
    return {
        f.name: record[f.name]
        for f in dataclasses.fields(options)
        if not f.metadata.get(CHANGES_NO_ROW)
    }
