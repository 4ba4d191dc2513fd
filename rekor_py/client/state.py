"""The client's memory of verified tree heads: one per log and tree, in a JSON file.

rekor-cli keeps the last verified signed tree head and, on the next `loginfo`,
asks the log to prove the new head extends it.  We do the same.  The file is
the user's own trusted record, so its fields are taken as they are; the signed
note kept beside them is evidence (two signed, inconsistent heads prove a split
view) and a diagnostic when a check fails.

Exact file format (UTF-8 JSON, written whole and atomically: temp file in the
same directory, fsync, rename):

    {"version": 1,
     "logs": {"<logID hex>/<treeID decimal>": {
         "server": "<URL it was fetched from>", "treeID": "<decimal>",
         "treeSize": <int>, "rootHash": "<64 hex>", "signedTreeHead": "<note text>"}}}

Keys name the log by its key (log ID) and tree, not by URL, so one log reached
by two URLs shares its memory and a new shard starts afresh (github.com/sigstore/rekor/issues/1087).
Unknown top-level fields and other logs' records are kept as they are.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from rekor_py.client.verify import TreeHead

__all__ = ["StateError", "StateFile", "default_state_path"]

_VERSION = 1
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_TREE_ID_RE = re.compile(r"[1-9][0-9]{0,18}")
_MAX_STATE_BYTES = 16 * 1024 * 1024


class StateError(ValueError):
    """The state file cannot be read or written, or does not hold what we write."""


def default_state_path() -> Path:
    """`<user data dir>/rekor-py/client-state.json` (e.g. ~/.local/share on Linux)."""
    return Path(platformdirs.user_data_dir("rekor-py", appauthor=False)) / "client-state.json"


class StateFile:
    """Read and update the state at `path` (missing file: nothing remembered)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {"version": _VERSION, "logs": {}}
        except OSError as e:
            raise StateError(f"cannot read state file {self.path}: {e.strerror}") from None
        if len(raw) > _MAX_STATE_BYTES:
            raise StateError(f"state file {self.path} is larger than 16 MiB")
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StateError(f"state file {self.path} is not JSON: {e}") from None
        if not isinstance(data, dict) or data.get("version") != _VERSION \
                or not isinstance(data.get("logs"), dict):
            raise StateError(f"state file {self.path} is not a version {_VERSION} state file")
        return data

    def find(self, log_id_hex: str, tree_id: str) -> TreeHead | None:
        """The remembered head of that log's tree, or None; raises StateError if malformed."""
        record = self._load()["logs"].get(_key(log_id_hex, tree_id))
        if record is None:
            return None
        return _head(record, f"state file {self.path}, log {_key(log_id_hex, tree_id)}")

    def remember(self, log_id_hex: str, head: TreeHead, server: str) -> None:
        """Store `head` as the last verified head of its log's tree (atomic replace)."""
        data = self._load()
        data["logs"][_key(log_id_hex, head.tree_id)] = {
            "server": server,
            "treeID": head.tree_id,
            "treeSize": head.tree_size,
            "rootHash": head.root_hash.hex(),
            "signedTreeHead": head.checkpoint,
        }
        self._write(json.dumps(data, indent=2, sort_keys=True).encode() + b"\n")

    def _write(self, content: bytes) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".client-state-", dir=directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself must survive a crash
            finally:
                os.close(dir_fd)
        except OSError as e:
            raise StateError(f"cannot write state file {self.path}: {e.strerror}") from None


def _key(log_id_hex: str, tree_id: str) -> str:
    return f"{log_id_hex}/{tree_id}"


def _head(record: object, where: str) -> TreeHead:
    if not isinstance(record, dict):
        raise StateError(f"{where}: not an object")
    tree_id, size, root, note = (record.get(k) for k in
                                 ("treeID", "treeSize", "rootHash", "signedTreeHead"))
    if not isinstance(tree_id, str) or not _TREE_ID_RE.fullmatch(tree_id):
        raise StateError(f"{where}: treeID is not a decimal string")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise StateError(f"{where}: treeSize is not a non-negative integer")
    if not isinstance(root, str) or not _HEX64_RE.fullmatch(root):
        raise StateError(f"{where}: rootHash is not 64 lowercase hex")
    if not isinstance(note, str):
        raise StateError(f"{where}: signedTreeHead is missing")
    return TreeHead(tree_id, size, bytes.fromhex(root), note)
