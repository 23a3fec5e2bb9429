"""The progress bar: items/s and ETA on a terminal, silence in non-interactive logs.

``progress="auto"`` shows the bar only when stderr is a terminal (and not ``--quiet``),
``"on"`` always (``--progress``), ``"off"`` never. While a bar is shown, log records are
written above it instead of through it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

PROGRESS_MODES = ("auto", "on", "off")


def progress_enabled(mode: str, quiet: bool = False) -> bool:
    """Whether to draw a bar for ``mode`` ("auto", "on", "off")."""
    if mode == "on":
        return True
    return mode == "auto" and not quiet and sys.stderr.isatty()


class Progress:
    """A bar over ``total`` items that counts failures; does nothing when disabled.

    Args:
        total: number of items.
        enabled: whether to draw (see ``progress_enabled``).
        desc: the label before the bar.
        done: items already finished (cached or resumed), shown but not counted in the rate.
    """

    def __init__(self, total: int, enabled: bool, desc: str = "items", done: int = 0):
        self.failed = 0
        self._bar = None
        if enabled:  # tqdm is imported only when drawn: it costs a quiet run 0.2 s to start
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=done,
                desc=desc,
                unit="item",
                file=sys.stderr,
                dynamic_ncols=True,
                smoothing=0.1,
            )

    def advance(self, failed: bool = False) -> None:
        """Counts one finished item."""
        self.failed += failed
        if self._bar is not None:
            if failed:
                self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextlib.contextmanager
def progress_bar(
    total: int, enabled: bool, desc: str = "items", done: int = 0
) -> Iterator[Progress]:
    """A ``Progress`` for the duration of a block, with logging routed above the bar."""
    bar = Progress(total, enabled, desc, done)
    redirect = contextlib.nullcontext()
    if enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect = logging_redirect_tqdm()
    try:
        with redirect:
            yield bar
    finally:
        bar.close()
