"""Contract tests over every registered task: what any task must do, whatever it computes.

A new task is covered without editing this file: what a run needs beyond the defaults, a good
input and another valid ``--model`` are asked of the task (``example_options``,
``example_input``, ``example_model``); only a ``str`` or ``Path`` option of a new name needs a
line in ``_other_values``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mmfuse import cli
from mmfuse.cache import content_key
from mmfuse.errors import UsageError
from mmfuse.runner import keyed_settings, run_identity
from mmfuse.tasks.options import (
    CHANGES_NO_ROW,
    CHOICES,
    base_type,
    fields_of,
    flag_of,
    read_config,
    resolve,
    to_record,
)
from mmfuse.tasks.registry import get_task, task_names, task_summary
from mmfuse.tasks.samples import png_bytes
from mmfuse.types import Item


def _other_values(cls, tmp_path: Path) -> dict:
    """Another valid value of each ``str`` and ``Path`` option (config-file values): a type
    alone says how to flip the others (``_other_value``)."""
    examples = tmp_path / "examples"
    (examples / "zebra").mkdir(parents=True)
    (examples / "zebra" / "a.png").write_bytes(png_bytes())
    (tmp_path / "species.txt").write_text("zebra\ngiraffe\n", encoding="utf-8")
    (tmp_path / "job.txt").write_text("Requirements:\n- 5+ years of Go\n", encoding="utf-8")
    (tmp_path / "deployments.csv").write_text("deploymentID,timezone\ncam1,+01:00\n")
    return {
        "text_model": "sentence-transformers:all-MiniLM-L6-v2",  # the default, named
        "speech_model": "faster-whisper:tiny.en",
        "image_model": "open_clip:ViT-B-32/laion2b_s34b_b79k",
        "model": cls.example_model(tmp_path / "head"),
        "language": "en",
        "species": tmp_path / "species.txt",
        "examples": examples,
        "job": tmp_path / "job.txt",
        "job_text": "Requirements:\n- Rust\n",
        "id_key": tmp_path / "ids.csv",
        "as_of": "2024-01-31",
        "deployments": tmp_path / "deployments.csv",
        "sort_into": tmp_path / "sorted",
    }


def _other_value(field, annotation, value, others: dict):
    """A valid value of the option other than ``value``."""
    if field.metadata.get(CHOICES):
        return next(c for c in field.metadata[CHOICES] if c != value)
    kind = base_type(annotation)
    if kind is bool:
        return not value
    if kind is int:
        return value + 1
    if kind is float:
        return value / 2 if value else 1.0
    if kind is tuple:
        return [*value, "another"]
    assert others.get(field.name) is not None, f"say in _other_values what {field.name} can be"
    return others[field.name]


def _keys(cls, config: dict) -> tuple[dict, str]:
    """The run's identity and an item's cache key under these options, as ``run_task`` makes
    them."""
    task = cls(resolve(cls.Options, config, {}))
    run_settings, row_settings = keyed_settings(task, task.settings())
    return run_identity(task.name, run_settings, ()), content_key(Item("post"), row_settings)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_toml(record: dict, path: Path) -> Path:
    """A flat TOML file of ``record`` (None values left out: they mean the default)."""
    lines = [f"{key} = {_toml_value(v)}" for key, v in record.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(params=task_names())
def task_name(request) -> str:
    return request.param


def test_options_round_trip_through_a_config_file(task_name, tmp_path):
    cls = get_task(task_name)
    options = resolve(cls.Options, cls.example_options(), {})
    path = write_toml(to_record(options), tmp_path / "run.toml")
    assert resolve(cls.Options, read_config(path), {}) == options


def test_columns_start_with_id_and_end_with_error(task_name, tmp_path):
    cls = get_task(task_name)
    options = resolve(cls.Options, cls.example_options(), {})
    columns = cls(options).columns
    assert columns[0] == "id" and columns[-1] == "error"
    assert len(set(columns)) == len(columns)


def test_every_option_makes_another_run_and_a_recompute_unless_it_changes_no_row(
    task_name, tmp_path
):
    # issue 25: six wildlife options were served the default run's rows from the cache
    cls = get_task(task_name)
    config = cls.example_options()
    options = resolve(cls.Options, config, {})
    run, row = _keys(cls, config)
    others = _other_values(cls, tmp_path)
    for field, annotation in fields_of(cls.Options):
        other = _other_value(field, annotation, getattr(options, field.name), others)
        other_run, other_row = _keys(cls, {**config, field.name: other})
        assert other_run != run, f"{field.name}={other!r} is the same run"
        same_rows = bool(field.metadata.get(CHANGES_NO_ROW))
        assert (other_row == row) == same_rows, f"{field.name}={other!r}: cache key"


def test_a_number_that_is_not_finite_is_refused_naming_its_flag(task_name):
    """Issue 25 #18: ``--every nan``, ``--event-gap nan``, ``--max-sound-s inf`` were accepted."""
    cls = get_task(task_name)
    config = cls.example_options()
    numbers = [f for f, a in fields_of(cls.Options) if base_type(a) is float]
    for field in numbers:
        for text in ("nan", "inf", "-inf"):
            with pytest.raises(UsageError, match=f"^{flag_of(field)} must be a finite number"):
                resolve(cls.Options, config, {field.name: text})
        with pytest.raises(UsageError, match=f"^{flag_of(field)} "):  # TOML's nan (and inf)
            resolve(cls.Options, {**config, field.name: float("nan")}, {})


def test_every_task_is_listed_with_its_summary(task_name, capsys):
    assert cli.main(["run", "--help"]) == 0
    listing = capsys.readouterr().out
    assert task_name in listing
    assert task_summary(task_name).split()[0] in listing


@pytest.mark.slow
def test_bad_file_is_one_error_row_and_second_run_comes_from_the_cache(
    task_name, tmp_path, one_torch_thread
):
    cls = get_task(task_name)
    folder = tmp_path / "in"
    folder.mkdir()
    name, content = cls.example_input()
    (folder / name).write_bytes(content)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    flags = ["--no-progress", "--cache-dir", str(tmp_path / "cache")]
    if cls.example_options():
        flags += ["--config", str(write_toml(cls.example_options(), tmp_path / "r.toml"))]

    assert cli.main(["run", task_name, str(folder), "-o", str(tmp_path / "a"), *flags]) == 1
    rows = {row["id"]: row for row in _rows(tmp_path / "a" / "results.csv")}
    assert set(rows) == {"good", "broken"}
    assert rows["good"]["error"] == ""
    assert rows["broken"]["error"] and "\n" not in rows["broken"]["error"]

    assert cli.main(["run", task_name, str(folder), "-o", str(tmp_path / "b"), *flags]) == 1
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["items"]["from_cache"] == 1  # the good item; errors are retried
    assert _rows(tmp_path / "b" / "results.csv") == _rows(tmp_path / "a" / "results.csv")
    assert manifest["task"] == task_name
    options = resolve(cls.Options, cls.example_options(), {})
    assert manifest["options"] == to_record(options)
    assert (tmp_path / "cache" / "results").is_dir()  # --cache-dir is the cache root
