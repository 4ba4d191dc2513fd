"""What the client's and the monitor's state files share: reading with a size cap,
replacing atomically and durably, and the one error both raise.

A state file is the user's record of what was verified; a crash while saving
must leave the old record or the new one, never a torn file: write a temp file
in the same directory, fsync it, rename it over the old one, fsync the directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["StateError", "read_capped", "replace_atomically"]


class StateError(ValueError):
    """A state file cannot be read or written, or does not hold what we write."""


def read_capped(path: Path, cap: int, what: str) -> bytes | None:
    """The file's bytes, or None if it does not exist; StateError past `cap` bytes."""
    try:
        with open(path, "rb") as f:
            raw = f.read(cap + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(raw) > cap:
        raise StateError(f"{what} {path} is larger than {cap} bytes")
    return raw


def replace_atomically(path: Path, content: bytes, what: str) -> None:
    """Replace `path` with `content`, atomically and durably; raises StateError."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise StateError(f"cannot write {what} {path}: {e.strerror}") from None
