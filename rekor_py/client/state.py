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
Beside them, "servers" maps each URL to the "<logID hex>/<treeID>" it served
last, so a URL that starts answering with another key or tree is noticed (a
file without it is read by scanning the records' "server" fields).
Unknown top-level fields and other logs' records are kept as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import platformdirs

from rekor_py.log.tree_head import TreeHead
from rekor_py.statefile import StateError, read_capped, replace_atomically

__all__ = ["StateError", "StateFile", "default_state_path"]

_VERSION = 1
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_TREE_ID_RE = re.compile(r"[1-9][0-9]{0,18}")
_MAX_STATE_BYTES = 16 * 1024 * 1024


def default_state_path() -> Path:
    """`<user data dir>/rekor-py/client-state.json` (e.g. ~/.local/share on Linux)."""
    return Path(platformdirs.user_data_dir("rekor-py", appauthor=False)) / "client-state.json"


class StateFile:
    """Read and update the state at `path` (missing file: nothing remembered)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        raw = read_capped(self.path, _MAX_STATE_BYTES, "state file")
        if raw is None:
            return {"version": _VERSION, "logs": {}}
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StateError(f"state file {self.path} is not JSON: {e}") from None
        if not isinstance(data, dict) or data.get("version") != _VERSION \
                or not isinstance(data.get("logs"), dict):
            raise StateError(f"state file {self.path} is not a version {_VERSION} state file")
        return data

    def find(self, log_id_hex: str, tree_id: int) -> TreeHead | None:
        """The remembered head of that log's tree, or None; raises StateError if malformed."""
        record = self._load()["logs"].get(_key(log_id_hex, tree_id))
        if record is None:
            return None
        return _head(record, f"state file {self.path}, log {_key(log_id_hex, tree_id)}")

    def last_served(self, server: str) -> tuple[str, int] | None:
        """(log ID hex, tree ID) that `server` served when last remembered, or None."""
        data = self._load()
        servers = data.get("servers")
        if isinstance(servers, dict):
            key = servers.get(server)
        else:  # written before "servers" existed: any record fetched from there
            key = next((k for k, r in data["logs"].items()
                        if isinstance(r, dict) and r.get("server") == server), None)
        if not isinstance(key, str) or key.count("/") != 1:
            return None
        log_id, tree_id = key.split("/")
        if not _HEX64_RE.fullmatch(log_id) or not _TREE_ID_RE.fullmatch(tree_id):
            raise StateError(f"state file {self.path}: server {server} maps to {key!r}, "
                             f"not <logID>/<treeID>")
        return log_id, int(tree_id)

    def remember(self, log_id_hex: str, head: TreeHead, server: str) -> None:
        """Store `head` as the last verified head of its log's tree, and its log and
        tree as what `server` serves (atomic replace)."""
        data = self._load()
        servers = data.get("servers")
        data["servers"] = {**(servers if isinstance(servers, dict) else {}),
                           server: _key(log_id_hex, head.tree_id)}
        data["logs"][_key(log_id_hex, head.tree_id)] = {
            "server": server,
            "treeID": str(head.tree_id),
            "treeSize": head.size,
            "rootHash": head.root_hash.hex(),
            "signedTreeHead": head.checkpoint,
        }
        replace_atomically(self.path, json.dumps(data, indent=2, sort_keys=True).encode() + b"\n",
                           "state file")

def _key(log_id_hex: str, tree_id: int) -> str:
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
    return TreeHead(int(tree_id), size, bytes.fromhex(root), note)
