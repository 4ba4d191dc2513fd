"""What the client checks in the log's answers, offline, with rekor_py's own verifiers.

Owns: reading a `{entryID: LogEntry}` answer (the ID's leaf hash must be the
body's), checking it with log/bundle_verify.py (log ID, inclusion proof,
checkpoint, SET), checking a log info answer's signed tree head, and checking
consistency between two tree heads.  Every check raises VerificationError with
a message fit for a terminal.  HTTP belongs to client/http.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rekor_py import merkle
from rekor_py.log.bundle_verify import EntryVerificationError, TlogEntry, verify_tlog_entry
from rekor_py.log.checkpoint import CheckpointError, parse_checkpoint, verify_checkpoint
from rekor_py.log.signer import LogVerifier
from rekor_py.log.tree_head import TreeHead

__all__ = [
    "LogEntryAnswer",
    "VerificationError",
    "parse_consistency_proof",
    "parse_log_entry_answer",
    "verify_log_entry",
    "verify_log_info",
]

_ENTRY_ID_RE = re.compile(r"[0-9a-f]{16}[0-9a-f]{64}")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_TREE_ID_RE = re.compile(r"[1-9][0-9]{0,18}")


class VerificationError(ValueError):
    """The log's answer is malformed, or a proof or signature does not hold."""


@dataclass(frozen=True)
class LogEntryAnswer:
    """One entry as the log served it: its 80-hex ID, the raw LogEntry, decoded parts."""

    entry_id: str
    value: Mapping[str, Any]
    tlog: TlogEntry
    body: Any  # the decoded canonical body (JSON), e.g. {"kind": ..., "spec": ...}

    @property
    def uuid(self) -> str:
        return self.entry_id[16:]

    @property
    def tree_id(self) -> int:
        return int(self.entry_id[:16], 16)


def parse_log_entry_answer(data: Any) -> LogEntryAnswer:
    """Read a one-key `{entryID: LogEntry}`; the ID must end in the body's leaf hash."""
    if not isinstance(data, dict) or len(data) != 1:
        raise VerificationError("the answer is not a one-key {entryID: LogEntry} object")
    entry_id, value = next(iter(data.items()))
    if not isinstance(entry_id, str) or not _ENTRY_ID_RE.fullmatch(entry_id):
        raise VerificationError(f"entry ID {str(entry_id)[:100]!r} is not 80 lowercase hex")
    if not isinstance(value, dict):
        raise VerificationError("the LogEntry is not a JSON object")
    try:
        tlog = TlogEntry.from_log_entry(value)
    except EntryVerificationError as e:
        raise VerificationError(f"malformed entry: {e}") from e
    if merkle.leaf_hash(tlog.body).hex() != entry_id[16:]:
        raise VerificationError("the entry ID is not the leaf hash of the entry's body")
    try:
        body = json.loads(tlog.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise VerificationError(f"the entry body is not JSON: {e}") from e
    return LogEntryAnswer(entry_id, value, tlog, body)


def verify_log_entry(answer: LogEntryAnswer, verifier: LogVerifier) -> None:
    """Log ID, inclusion proof, checkpoint and SET under the log key; raises VerificationError."""
    try:
        verify_tlog_entry(answer.tlog, verifier)
    except EntryVerificationError as e:
        raise VerificationError(str(e)) from e
    _check_origin(answer.tlog.checkpoint, str(answer.tree_id))


def verify_log_info(info: Any, verifier: LogVerifier) -> TreeHead:
    """Check GET /api/v1/log: signed tree head valid, equal to treeSize/rootHash/treeID."""
    if not isinstance(info, dict):
        raise VerificationError("log info is not a JSON object")
    tree_id, size, root_hex, note = (info.get(k) for k in
                                     ("treeID", "treeSize", "rootHash", "signedTreeHead"))
    if not isinstance(tree_id, str) or not _TREE_ID_RE.fullmatch(tree_id):
        raise VerificationError(f"log info treeID {tree_id!r} is not a decimal string")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise VerificationError("log info treeSize is not a non-negative integer")
    if not isinstance(root_hex, str) or not _HEX64_RE.fullmatch(root_hex):
        raise VerificationError("log info rootHash is not 64 lowercase hex")
    if not isinstance(note, str):
        raise VerificationError("log info has no signedTreeHead")
    try:
        cp = verify_checkpoint(note, verifier)
    except CheckpointError as e:
        raise VerificationError(f"signed tree head: {e}") from e
    if cp.size != size or cp.root_hash.hex() != root_hex:
        raise VerificationError(
            f"signed tree head says size {cp.size} root {cp.root_hash.hex()}, log info says "
            f"size {size} root {root_hex}")
    _check_origin(note, tree_id)
    return TreeHead(int(tree_id), size, cp.root_hash, note)


def parse_consistency_proof(answer: Any) -> list[bytes]:
    """The hashes of a GET /api/v1/log/proof answer; raises VerificationError."""
    hashes = answer.get("hashes") if isinstance(answer, dict) else None
    if not isinstance(hashes, list):
        raise VerificationError("the consistency proof answer has no hashes list")
    try:
        return [_hex32(h) for h in hashes]
    except ValueError as e:
        raise VerificationError(f"the consistency proof answer: {e}") from None


def _hex32(value: object) -> bytes:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise ValueError("proof hash is not 64 lowercase hex")
    return bytes.fromhex(value)


def _check_origin(note: str, tree_id: str) -> None:
    """The checkpoint's origin must end in " - <treeID>" (docs/rekor-compat.md#checkpoint):
    it names the tree.
    Requires a note whose signature was already verified."""
    try:
        origin = parse_checkpoint(note).checkpoint.origin
    except CheckpointError as e:
        raise VerificationError(f"checkpoint: {e}") from e
    if not origin.endswith(f" - {tree_id}"):
        raise VerificationError(f"checkpoint origin {origin!r} does not name tree {tree_id}")
