"""Progress: a bar on a terminal, a log line every ``LOG_EVERY_S`` seconds elsewhere.

``progress="auto"`` draws the bar when stderr is a terminal and otherwise logs a line now and
then (items, rate, ETA), so a run in a batch job or behind ``| tee`` is not silent; ``"on"``
always draws the bar (``--progress``), ``"off"`` shows neither. ``--quiet`` drops both. While a
bar is shown, log records are written above it instead of through it.

The rate counts only the items computed since the first one finished: the minutes spent loading
models and hashing files before it, and the rows taken from the cache, are no part of it. The
ETA is shown once it has settled (``SETTLE_S`` seconds and two batches after that first item);
before, the bar says "ETA …". Items usually arrive a batch at a time, and one batch is no rate.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

PROGRESS_MODES = ("auto", "on", "off")
# Seconds between two progress lines in a log (no terminal).
LOG_EVERY_S = 30.0
# The ETA is shown after this many seconds of computed items and at least two arrivals of them.
SETTLE_S = 10.0
SETTLE_ARRIVALS = 2


def progress_enabled(mode: str, quiet: bool = False) -> bool:
    """Whether to draw a bar for ``mode`` ("auto", "on", "off")."""
    if mode == "on":
        return True
    return mode == "auto" and not quiet and sys.stderr.isatty()


def progress_logged(mode: str, quiet: bool = False) -> bool:
    """Whether to log progress lines instead: "auto" without a terminal, unless ``quiet``."""
    return mode == "auto" and not quiet and not sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``seconds`` as people say it: "45 s", "3 min 20 s", "2 h 05 min"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Rate:
    """Items per second and the time left, from the items computed after the first one.

    Args:
        total: items in the run.
        done: items already there (cached or resumed): counted as done, never in the rate.
        clock: the time source (seconds), for tests.
    """

    def __init__(self, total: int, done: int = 0, clock: Callable[[], float] = time.monotonic):
        self.total, self.done, self.clock = total, done, clock
        self._first: tuple[float, int] | None = None  # (time, done) at the first computed item
        self._arrivals = 0  # times the count moved after the first computed item

    def advance(self, n: int = 1) -> None:
        """Counts ``n`` finished items."""
        now = self.clock()
        if self._first is None:
            self._first = (now, self.done + n)
        elif now > self._first[0]:
            self._arrivals += 1
        self.done += n

    def per_second(self) -> float | None:
        """Items per second since the first computed item; None until it has settled."""
        if self._first is None or self._arrivals < SETTLE_ARRIVALS:
            return None
        elapsed = self.clock() - self._first[0]
        if elapsed < SETTLE_S:
            return None
        return (self.done - self._first[1]) / elapsed

    def eta(self) -> float | None:
        """Seconds left at the settled rate, or None while it settles."""
        rate = self.per_second()
        return None if not rate else max(self.total - self.done, 0) / rate

    def describe(self) -> str:
        """ "12.5 items/s, ETA 3 min 20 s", or "ETA …" while the rate settles."""
        rate, eta = self.per_second(), self.eta()
        if rate is None or eta is None:
            return "ETA …"
        return f"{rate:.3g} items/s, ETA {duration(eta)}"


class Progress:
    """Counts finished items and failures; draws a bar, logs a line now and then, or neither.

    Args:
        total: number of items.
        enabled: whether to draw a bar (see ``progress_enabled``).
        desc: the label before the bar, and of the log lines.
        done: items already finished (cached or resumed), shown but not counted in the rate.
        logged: whether to log a line every ``LOG_EVERY_S`` seconds (see ``progress_logged``;
            never together with a bar).
        clock: the time source, for tests.
    """

    def __init__(
        self,
        total: int,
        enabled: bool,
        desc: str = "items",
        done: int = 0,
        logged: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failed = 0
        self.desc, self.rate = desc, Rate(total, done, clock)
        self._bar = None
        self._logged = logged and not enabled
        self._last_log = clock()
        if enabled:  # tqdm is imported only when drawn: it costs a quiet run 0.2 s to start
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=done,
                desc=desc,
                unit="item",
                file=sys.stderr,
                dynamic_ncols=True,
                # tqdm's own ETA counts model loading as work; ours (the postfix) does not
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {postfix}]",
                postfix=self.rate.describe(),
            )

    def advance(self, failed: bool = False) -> None:
        """Counts one finished item."""
        self.failed += failed
        self.rate.advance()
        if self._bar is not None:
            failures = f", {self.failed} failed" if self.failed else ""
            self._bar.set_postfix_str(self.rate.describe() + failures, refresh=False)
            self._bar.update(1)
        elif self._logged and self.rate.clock() - self._last_log >= LOG_EVERY_S:
            self._last_log = self.rate.clock()
            log.info("%s", self.line())

    def line(self) -> str:
        """ "social-media: 120 of 500 items (24 %), 3 failed, 12.5 items/s, ETA 30 s"."""
        total, done = self.rate.total, self.rate.done
        share = f" ({100 * done / total:.0f} %)" if total else ""
        failures = f", {self.failed} failed" if self.failed else ""
        return f"{self.desc}: {done} of {total} items{share}{failures}, {self.rate.describe()}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def progress_bar(
    total: int, enabled: bool, desc: str = "items", done: int = 0, logged: bool = False
) -> Iterator[Progress]:
    """A ``Progress`` for the duration of a block, with logging routed above the bar."""
    bar = Progress(total, enabled, desc, done, logged)
    redirect = contextlib.nullcontext()
    if enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect = logging_redirect_tqdm()
    try:
        with redirect:
            yield bar
    finally:
        bar.close()
