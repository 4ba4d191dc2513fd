"""Files written so that a crash leaves them whole: the client's and the monitor's
state files (reading with a size cap, replacing atomically and durably, and the
one error both raise), and the keys and certificates a server creates on first
start (published once, never replaced).

A state file is the user's record of what was verified; a crash while saving
must leave the old record or the new one, never a torn file: write a temp file
in the same directory, fsync it, rename it over the old one, fsync the directory.
A created key must never replace one that another process created at the same
moment: the temp file is linked into place (link(2) fails if the name exists,
rename(2) would replace it), and the loser reads the winner's.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["StateError", "create_new_file", "fsync_dir", "read_capped", "replace_atomically"]


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


def create_new_file(path: Path, content: bytes, mode: int) -> bool:
    """Publish `content` at `path` (with `mode`), whole and durably, unless a file is
    there already: False then (it is kept).  Raises OSError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask could only have removed bits
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (best effort where O_DIRECTORY is missing)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
