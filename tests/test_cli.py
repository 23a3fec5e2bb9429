"""The command line itself: the flags every command takes, wherever they are given."""

from __future__ import annotations

import argparse

import pytest

from mmfuse import config
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
