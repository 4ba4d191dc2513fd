"""Client text in log lines: bounded and escaped.

A request's path, a kind or a message built from client input may be megabytes
long and hold newlines or terminal escapes; logged raw, one request could fill
the disk or forge a log line.  `clip` keeps the first `limit` characters and
escapes the way repr() does, so a log line stays one line whatever it quotes.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CLIP", "clip"]

DEFAULT_CLIP = 200


def clip(text: str, limit: int = DEFAULT_CLIP) -> str:
    """`text` as a quoted, escaped literal of at most about `limit` characters
    (plus the quotes and, when cut, a note of the full length)."""
    if len(text) <= limit:
        return repr(text)
    # Escape only the kept prefix: repr() of the whole text could be huge.
    return f"{text[:limit]!r}... ({len(text)} characters)"
