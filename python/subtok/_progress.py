"""One-line progress bars for long work (embedding, training, pretraining data).

A bar is drawn on terminals and in Jupyter/IPython kernels, whose output area renders ``\\r``
updates in place (a bar written to the process's stderr file descriptor, as a compiled extension
would, never shows in a notebook). Elsewhere (logs, pipes, CI) it stays silent.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO


def is_terminal(stream: Optional[TextIO]) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def interactive(stream: Optional[TextIO]) -> bool:
    """Whether a bar on ``stream`` is seen: a terminal, or a Jupyter kernel's output stream."""
    return is_terminal(stream) or type(stream).__module__.split(".")[0] == "ipykernel"


class ProgressBar:
    """``desc [#####.....]  50.0% done/total (rate/s)``, redrawn at most every 0.1 s.

    ``enabled=None`` draws only when :func:`interactive` says the stream is seen. Use
    :meth:`update` for increments, :meth:`set` (or call the bar) for absolute counts; the line is
    ended when ``done`` reaches ``total`` or on :meth:`close`.
    """

    def __init__(self, total: int = 0, desc: str = "", stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = interactive(self.stream) if enabled is None else bool(enabled)
        self.desc = desc
        self.total = max(int(total), 0)
        self.n = 0
        self.t0 = time.perf_counter()
        self._last = -1.0
        self._open = False  # a line is drawn and not yet ended

    def update(self, k: int = 1) -> None:
        self.set(self.n + k)

    def set(self, done: int, total: Optional[int] = None) -> None:
        self.n = int(done)
        if total is not None:
            self.total = max(int(total), 0)
        if not self.enabled:
            return
        now = time.perf_counter()
        finished = self.total > 0 and self.n >= self.total
        if not finished and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        frac = min(self.n / self.total, 1.0) if self.total else 0.0
        filled = int(frac * width)
        rate = self.n / max(now - self.t0, 1e-9)
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r{self.desc} [{bar}] {frac:6.1%} {self.n}/{self.total} ({rate:.0f}/s)")
        self._open = True
        if finished:
            self.close()
        else:
            self.stream.flush()

    __call__ = set

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


class StageBars:
    """A ``callback(stage, done, total)`` that draws one bar per stage (training's progress)."""

    def __init__(self, stream: Optional[TextIO] = None, then: Optional[Callable[[str, int, int], None]] = None):
        self.stream = stream
        self.then = then  # the caller's own callback, called after drawing
        self.stage: Optional[str] = None
        self.bar: Optional[ProgressBar] = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, ProgressBar(total, stage, self.stream, enabled=True)
        assert self.bar is not None
        self.bar.set(done, total)
        if self.then is not None:
            self.then(stage, done, total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
