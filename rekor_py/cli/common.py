"""What every `rekor-py` command shares: exit codes, the error line, JSON output
and the progress bar."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNREACHABLE", "EXIT_USAGE", "Progress", "fail",
           "print_json"]

EXIT_OK = 0
"""Everything checked holds."""
EXIT_FAILED = 1
"""A check failed (proof, signature, an inconsistent log, an fsck discrepancy), a
lookup found nothing, or (client commands) the server could not answer."""
EXIT_USAGE = 2
"""The command cannot run: bad flags or files, an unusable state file or database,
or the server refused the request as malformed."""
EXIT_UNREACHABLE = 3
"""`monitor` only: the log could not be read, so nothing was checked."""


def fail(command: str, message: str, code: int) -> int:
    """Print the one error line, `rekor-py <command>: error: <message>`; return `code`."""
    print(f"rekor-py {command}: error: {message}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


_WIDTH = 30
_REDRAW_S = 0.2


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal.

    `update(done)` redraws at most every 0.2 s; `finish()` ends the line."""

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
