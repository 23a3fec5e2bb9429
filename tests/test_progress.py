"""Progress: a log line now and then without a terminal, an ETA only once it has settled."""

from __future__ import annotations

import logging

from mmfuse import progress
from mmfuse.progress import Progress, Rate, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_leaves_out_model_loading_and_waits_to_settle():
    """Issue 24 #5: the first ETA said 13 minutes for a 66-second run, counting the model's
    loading as work. 100 items in batches of 10, 60 s of loading, then a batch every 2 s."""
    clock = Clock()
    rate = Rate(100, clock=clock)
    clock.now = 60.0
    rate.advance(10)  # the first batch, after the models loaded
    assert rate.eta() is None and rate.describe() == "ETA …"
    clock.now = 62.0
    rate.advance(10)
    assert rate.eta() is None  # one step after the first batch is no rate yet
    for batch in range(3, 8):
        clock.now = 60.0 + 2 * (batch - 1)
        rate.advance(10)
    assert rate.per_second() == 5.0  # 60 items in the 12 s since the first batch
    assert rate.eta() == 6.0  # 30 items left: the run's true remaining time
    assert rate.describe() == "5 items/s, ETA 6 s"


def test_cached_items_count_as_done_but_not_in_the_rate():
    clock = Clock()
    rate = Rate(50, done=40, clock=clock)
    for second in (1, 6, 11):
        clock.now = second
        rate.advance()
    assert rate.done == 43 and rate.per_second() == 0.2


def test_without_a_terminal_a_line_is_logged_every_interval(caplog, monkeypatch):
    """Issue 24 #5: a 4-minute run without a terminal printed nothing until the end."""
    monkeypatch.setattr(progress, "LOG_EVERY_S", 30.0)
    clock = Clock()
    bar = Progress(240, enabled=False, desc="social-media", logged=True, clock=clock)
    with caplog.at_level(logging.INFO, logger="mmfuse.progress"):
        for second in range(1, 241):
            clock.now = float(second)
            bar.advance(failed=second == 5)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 8  # every 30 s of a 4-minute run
    assert lines[0].startswith("social-media: 30 of 240 items (12 %), 1 failed")
    assert lines[-1] == "social-media: 240 of 240 items (100 %), 1 failed, 1 items/s, ETA 0 s"


def test_no_lines_when_quiet_or_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert progress.progress_logged("auto") and not progress.progress_logged("auto", quiet=True)
    assert not progress.progress_logged("off") and not progress.progress_logged("on")


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (4.6, 200, 7500)] == ["5 s", "3 min 20 s", "2 h 05 min"]
