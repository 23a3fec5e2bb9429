"""The command line itself: the flags every command takes, wherever they are given."""

from __future__ import annotations

import argparse

import pytest

from mmfuse import cli, config
from mmfuse.cli import COMMANDS, build_parser, main

COMMON = ("-v", "-q", "--online")


def _parsers(parser: argparse.ArgumentParser):
    """The parser and every parser below it (``run``'s tasks too)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_takes_the_common_flags_after_its_name(command):
    """Issue 14 #16: ``mmfuse label ... -v`` was "unrecognized arguments"."""
    top = build_parser(command)
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for parser in _parsers(sub.choices[command]):
        missing = [flag for flag in COMMON if flag not in parser._option_string_actions]
        assert not missing, f"{parser.prog} lacks {missing}"


def test_flags_after_the_command_take_effect(monkeypatch, tmp_path):
    allowed = []
    monkeypatch.setattr(config, "allow_online", lambda: allowed.append(True))
    monkeypatch.setattr(config, "enforce_offline", lambda: None)
    levels = []
    monkeypatch.setattr(config, "configure_logging", lambda v, q: levels.append((v, q)))
    assert main(["cache", "info", "--cache-dir", str(tmp_path), "-q", "--online"]) == 0
    assert allowed == [True] and levels == [(False, True)]
    assert main(["models", "-v"]) == 0
    assert levels[-1] == (True, False)
    assert main(["-v", "models"]) == 0 and levels[-1] == (True, False)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_ctrl_c_while_modules_load_is_one_line(monkeypatch, capsys):
    """Issue 25 #17: Ctrl-C in a command's first seconds (its imports) was a long traceback."""

    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_command_module", interrupted)
    try:
        code = main(["models"])
    except KeyboardInterrupt:  # let pytest go on, failing this test
        pytest.fail("Ctrl-C escaped main() as a traceback")
    assert code == 130
    assert _one_line(capsys.readouterr().err) == "mmfuse models: interrupted"


def test_a_config_file_not_in_utf8_is_a_usage_error(tmp_path, capsys):
    """Issue 25 #17: a non-UTF-8 --config file was a UnicodeDecodeError traceback."""
    (tmp_path / "posts.csv").write_text("id,text\n1,what a day\n")
    (tmp_path / "run.toml").write_bytes("workers = 2 # caf\xe9\n".encode("latin-1"))
    args = ["run", "social-media", str(tmp_path / "posts.csv"), "-o", str(tmp_path / "out")]
    assert main([*args, "--config", str(tmp_path / "run.toml")]) == 2
    assert "cannot read config file" in _one_line(capsys.readouterr().err)


def test_a_groups_file_not_in_utf8_is_a_usage_error(tmp_path, capsys):
    """Issue 25 #17: a non-UTF-8 ``audit --groups`` file was a UnicodeDecodeError traceback."""
    (tmp_path / "results.csv").write_text("id,fit_score\na,80\nb,40\n")
    (tmp_path / "groups.csv").write_bytes("id,group\na,M\xe9tis\nb,Cree\n".encode("latin-1"))
    args = ["audit", str(tmp_path / "results.csv"), "--groups", str(tmp_path / "groups.csv")]
    assert main([*args, "--group-column", "group", "--top", "1"]) == 2
    assert "not UTF-8" in _one_line(capsys.readouterr().err)


def test_a_truncated_model_file_is_a_usage_error(tmp_path, capsys):
    """Issue 25 #17: a truncated model.safetensors was a SafetensorError traceback."""
    from mmfuse.fusion.model import FusionConfig, FusionModel, save_model

    tiny = FusionConfig(modalities={"text": 8}, d_model=8, n_heads=2)
    folder = save_model(FusionModel(tiny), tmp_path / "head")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    (tmp_path / "labels.csv").write_text("id,mood\n1,happy\n")
    assert main(["evaluate", "--model", str(folder), "--labels", str(tmp_path / "labels.csv")]) == 2
    assert "model.safetensors" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("flag", "value"), [("--every", "nan"), ("--every", "inf"), ("--event-gap", "nan")]
)
def test_a_number_that_is_not_finite_is_a_usage_error(tmp_path, capsys, flag, value):
    """Issue 25 #18: ``--every nan`` (or inf) passed the options' range checks."""
    args = ["run", "wildlife", str(tmp_path), "-o", str(tmp_path / "out"), flag, value]
    assert main(args) == 2
    assert flag in _one_line(capsys.readouterr().err)


def test_a_reader_that_goes_away_is_not_an_error(monkeypatch, capsys, tmp_path):
    """``mmfuse models | head -1``: the pipe closes before the listing ends; exit 0, quiet."""

    class Listing:
        @staticmethod
        def add_arguments(parser):
            pass

        @staticmethod
        def run(args):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_command_module", lambda name: Listing)
    monkeypatch.setattr(cli.os, "dup2", lambda *args: None)  # keep pytest's stdout
    with open(tmp_path / "stdout", "w") as stdout:
        monkeypatch.setattr(cli.sys, "stdout", stdout)
        assert cli.main(["models"]) == 0
    assert capsys.readouterr().err == ""


def test_a_misspelt_flag_names_the_flag_meant(tmp_path, capsys):
    """Issue 24 #5: ``--speceis`` printed the top-level usage with no suggestion."""
    args = ["run", "wildlife", str(tmp_path), "-o", str(tmp_path / "out"), "--speceis", "s.txt"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mmfuse run wildlife")
    assert "--speceis: did you mean --species?" in err


def test_an_abbreviated_flag_is_refused_not_guessed(tmp_path, capsys):
    """Issue 24 #5: ``--topic`` was silently read as ``--topics``."""
    args = ["run", "social-media", str(tmp_path), "-o", str(tmp_path / "out"), "--topic", "x"]
    assert main(args) == 2
    assert "--topic: did you mean --topics?" in capsys.readouterr().err


def _help(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def _commands_and_tasks():
    from mmfuse.tasks.registry import task_names

    return [[name] for name in COMMANDS] + [["run", task] for task in task_names()]


@pytest.mark.parametrize("argv", _commands_and_tasks(), ids=" ".join)
def test_every_help_ends_with_an_example_and_speaks_to_users(argv, capsys):
    """Issue 24 #4: no ``--help`` had an example; some spoke of modules and pipeline stages."""
    text = _help(argv, capsys)
    examples = text.split("\nexamples:\n", 1)[-1] if "\nexamples:\n" in text else ""
    commands = [line.strip() for line in examples.splitlines() if line.strip()]
    assert commands and all(line.startswith("mmfuse ") for line in commands), text
    assert any(line.startswith(f"mmfuse {' '.join(argv)}") for line in commands), text
    for internal in ("mmfuse.", "subcommand", "pipeline stage", "decode (", "process (", "``"):
        assert internal not in text, f"{' '.join(argv)} --help says {internal!r}"


def test_the_top_level_help_has_examples_and_no_internal_wording(capsys):
    text = _help([], capsys)
    assert "mmfuse run social-media posts.csv -o out/posts" in text
    assert "mmfuse.commands" not in text and "pipeline stage" not in text
