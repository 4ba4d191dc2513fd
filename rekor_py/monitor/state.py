"""The monitor's state file: what it verified last, and the keys it trusts.

JSON, one object (exact keys, nothing else):

    {"format": "rekor-py-monitor/1",
     "origin": "<checkpoint origin>",
     "verifiers": ["<vkey>", ...],        # every one must sign each checkpoint
     "checkpoint": "<signed note>" | null} # the last verified one; null: none yet

The keys are pinned on first use (from flags, or fetched from the log) and never
change afterwards: a log whose key changed is reported, not followed.  Saving is
atomic (temp file in the same directory, fsync, rename, fsync of the directory),
so a crash leaves either the old state or the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekor_py.log.c2sp import NoteVerifier
from rekor_py.statefile import StateError, read_capped, replace_atomically

__all__ = ["STATE_FORMAT", "MonitorState", "StateError", "load_state", "save_state"]

STATE_FORMAT = "rekor-py-monitor/1"
_MAX_STATE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class MonitorState:
    origin: str
    verifiers: tuple[NoteVerifier, ...]
    checkpoint: str | None = None

    def to_json(self) -> str:
        return json.dumps({
            "format": STATE_FORMAT,
            "origin": self.origin,
            "verifiers": [v.vkey for v in self.verifiers],
            "checkpoint": self.checkpoint,
        }, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> MonitorState:
        """Raises StateError."""
        try:
            obj: Any = json.loads(text)
            if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT \
                    or set(obj) != {"format", "origin", "verifiers", "checkpoint"}:
                raise StateError(f"not a {STATE_FORMAT} state")
            origin, vkeys, checkpoint = obj["origin"], obj["verifiers"], obj["checkpoint"]
            if not isinstance(origin, str) or not isinstance(vkeys, list) or not vkeys \
                    or not all(isinstance(v, str) for v in vkeys) \
                    or not (checkpoint is None or isinstance(checkpoint, str)):
                raise StateError("state has fields of the wrong type")
            return cls(origin, tuple(NoteVerifier.from_vkey(v) for v in vkeys), checkpoint)
        except (ValueError, KeyError) as e:
            if isinstance(e, StateError):
                raise
            raise StateError(f"bad state: {e}") from e


def load_state(path: Path) -> MonitorState | None:
    """The saved state, or None if `path` does not exist.  Raises StateError."""
    raw = read_capped(path, _MAX_STATE_BYTES, "state file")
    if raw is None:
        return None
    try:
        return MonitorState.from_json(raw.decode())
    except UnicodeDecodeError as e:
        raise StateError(f"{path} is not UTF-8") from e


def save_state(path: Path, state: MonitorState) -> None:
    """Replace the file at `path` atomically and durably.  Raises StateError."""
    replace_atomically(Path(path), state.to_json().encode(), "state file")
