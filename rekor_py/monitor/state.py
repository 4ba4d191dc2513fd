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
    # The log index of the watched tree's leaf 0: after a rotation the tree is a
    # later shard of the log (rekor_py/monitor/rotation.py).
    first_index: int = 0

    def to_json(self) -> str:
        return json.dumps({
            "format": STATE_FORMAT,
            "origin": self.origin,
            "verifiers": [v.vkey for v in self.verifiers],
            "checkpoint": self.checkpoint,
            "first_index": self.first_index,
        }, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> MonitorState:
        """Raises StateError."""
        try:
            obj: Any = json.loads(text)
            if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT \
                    or set(obj) - {"first_index"} != {"format", "origin", "verifiers",
                                                      "checkpoint"}:
                raise StateError(f"not a {STATE_FORMAT} state")
            origin, vkeys, checkpoint = obj["origin"], obj["verifiers"], obj["checkpoint"]
            if not isinstance(origin, str) or not isinstance(vkeys, list) or not vkeys \
                    or not all(isinstance(v, str) for v in vkeys) \
                    or not (checkpoint is None or isinstance(checkpoint, str)):
                raise StateError("state has fields of the wrong type")
            first = obj.get("first_index", 0)  # absent in states from before shards
            if isinstance(first, bool) or not isinstance(first, int) or first < 0:
                raise StateError("state has a bad first_index")
            return cls(origin, tuple(NoteVerifier.from_vkey(v) for v in vkeys), checkpoint,
                       first)
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
