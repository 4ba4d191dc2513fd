"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 30
_REDRAW_S = 0.2


class Progress:
    """`update(done)` redraws at most every 0.2 s; `finish()` ends the line."""

    def __init__(self, total: int, *, label: str = "entries",
                 stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty() if enabled is None else enabled
        self._total = max(total, 1)
        self._label = label
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self._enabled or (now - self._last < _REDRAW_S and done < self._total):
            return
        self._last = now
        filled = _WIDTH * min(done, self._total) // self._total
        rate = done / max(now - self._start, 1e-9)
        self._stream.write(f"\r[{'#' * filled}{' ' * (_WIDTH - filled)}] "
                           f"{done:,}/{self._total:,} {self._label} ({rate:,.0f}/s)")
        self._stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False
