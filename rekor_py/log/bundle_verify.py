"""Offline verification of one transparency-log entry, with our own code.

This module owns reading the two shapes a Rekor v1 entry travels in and checking
its three proofs against a LogVerifier.  Entry bodies (kinds, signatures over
artifacts) and certificates are not checked here.

Input shapes (field names and encodings exactly as on the wire):

- LogEntry (docs/rekor-compat.md#log-entry), the value under the EntryID key of an API response:
  `body` b64, `integratedTime` int, `logID` 64 hex, `logIndex` int (virtual),
  `verification.signedEntryTimestamp` b64, `verification.inclusionProof` with
  `logIndex`/`treeSize` ints, `rootHash` and `hashes[]` 64 hex, `checkpoint` text.
- sigstore bundle `verificationMaterial.tlogEntries[i]` (protobuf JSON):
  `logIndex`, `integratedTime`, `inclusionProof.logIndex`/`treeSize` as decimal
  strings (ints also accepted), `logId.keyId`, `inclusionProof.rootHash`,
  `hashes[]`, `canonicalizedBody` and `inclusionPromise.signedEntryTimestamp` as
  standard base64, `inclusionProof.checkpoint.envelope` text.

Checks, in order, each failure naming its part:

1. log ID: the entry's log ID is the verifier's.
2. inclusion proof: leaf_hash(body) at the proof's leaf index folds to rootHash.
3. checkpoint: signed by the verifier's key; its size and root equal the proof's.
4. signed entry timestamp: over {body, integratedTime, logID, logIndex (virtual)}.

A Rekor v2 entry (`verify_v2_tlog_entry`) travels in the bundle shape with
`integratedTime` "0" and no SET; its log ID is the 32-byte Ed25519 note key ID
of the log's origin, and its checkpoint is a C2SP note signed by that key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rekor_py import merkle
from rekor_py.log.c2sp import SIG_ED25519, NoteVerifier, ed25519_log_id, verify_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from rekor_py.log.set import verify_set
from rekor_py.log.signer import LogVerifier, SignatureError

__all__ = ["EntryVerificationError", "TlogEntry", "verify_tlog_entry", "verify_v2_tlog_entry"]

_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_INT64 = (1 << 63) - 1


class EntryVerificationError(ValueError):
    """An entry failed to parse or verify; `part` names what failed."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part = part
        self.reason = reason


@dataclass(frozen=True)
class TlogEntry:
    """One log entry with its proofs, decoded to bytes and ints."""

    body: bytes
    integrated_time: int | None
    log_id: bytes
    log_index: int  # virtual index: the SET signs this one
    signed_entry_timestamp: bytes | None
    proof_log_index: int  # leaf index inside the entry's own tree
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str

    @classmethod
    def from_log_entry(cls, data: Mapping[str, Any]) -> TlogEntry:
        """Read a LogEntry, or a one-key `{entryID: LogEntry}` response; raises EntryVerificationError."""
        entry = _unwrap(data)
        verification = _get(entry, "verification", Mapping, "verification")
        proof = _get(verification, "inclusionProof", Mapping, "verification.inclusionProof")
        return cls(
            body=_b64(_get(entry, "body", str, "body"), "body"),
            integrated_time=_int(_get(entry, "integratedTime", int, "integratedTime"),
                                 "integratedTime"),
            log_id=_hex(_get(entry, "logID", str, "logID"), "logID"),
            log_index=_int(_get(entry, "logIndex", int, "logIndex"), "logIndex"),
            signed_entry_timestamp=_b64(
                _get(verification, "signedEntryTimestamp", str, "signedEntryTimestamp"),
                "signedEntryTimestamp"),
            **_proof_fields(proof, _hex, _json_int),
        )

    @classmethod
    def from_bundle_entry(cls, data: Mapping[str, Any]) -> TlogEntry:
        """Read a bundle's `verificationMaterial.tlogEntries[i]`; raises EntryVerificationError."""
        if not isinstance(data, Mapping):
            raise EntryVerificationError("entry", "tlog entry must be a JSON object")
        log_id = _get(data, "logId", Mapping, "logId")
        promise = data.get("inclusionPromise")
        set_b64 = None
        if promise is not None:
            set_b64 = _get(_as_map(promise, "inclusionPromise"), "signedEntryTimestamp", str,
                           "inclusionPromise.signedEntryTimestamp")
        integrated = data.get("integratedTime")
        proof = _get(data, "inclusionProof", Mapping, "inclusionProof")
        return cls(
            body=_b64(_get(data, "canonicalizedBody", str, "canonicalizedBody"),
                      "canonicalizedBody"),
            integrated_time=None if integrated is None else _proto_int(integrated,
                                                                       "integratedTime"),
            log_id=_b64_32(_get(log_id, "keyId", str, "logId.keyId"), "logId.keyId"),
            log_index=_proto_int(data.get("logIndex"), "logIndex"),
            signed_entry_timestamp=None if set_b64 is None else _b64(
                set_b64, "inclusionPromise.signedEntryTimestamp"),
            **_proof_fields(proof, _b64_32, _proto_int),
        )

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any], index: int = 0) -> TlogEntry:
        """Read `verificationMaterial.tlogEntries[index]` of a whole bundle."""
        material = _get(bundle, "verificationMaterial", Mapping, "verificationMaterial")
        entries = _get(material, "tlogEntries", list, "verificationMaterial.tlogEntries")
        if not 0 <= index < len(entries):
            raise EntryVerificationError("entry", f"bundle has no tlog entry {index}")
        return cls.from_bundle_entry(_as_map(entries[index], "tlogEntries[]"))


def verify_tlog_entry(entry: TlogEntry, verifier: LogVerifier, *, require_set: bool = True,
                      checkpoint_name: str | None = None) -> None:
    """Verify log ID, inclusion proof, checkpoint and SET (module docstring).

    Without `require_set`, an entry that carries no SET (or no integrated time) passes
    on its proof and checkpoint alone; a SET that is present is always checked.
    Raises EntryVerificationError whose `part` is "log ID", "inclusion proof",
    "checkpoint" or "signed entry timestamp".
    """
    if entry.log_id != verifier.log_id:
        raise EntryVerificationError(
            "log ID", f"entry log ID {entry.log_id.hex()} is not the key's {verifier.log_id_hex}")
    _verify_inclusion(entry)
    _verify_checkpoint(entry, verifier, checkpoint_name)
    if entry.signed_entry_timestamp is None or entry.integrated_time is None:
        if require_set:
            raise EntryVerificationError("signed entry timestamp",
                                         "missing (needs a SET and an integrated time)")
        return
    try:
        verify_set(verifier, entry.signed_entry_timestamp, entry.body, entry.integrated_time,
                   entry.log_id.hex(), entry.log_index)
    except (SignatureError, ValueError) as e:
        raise EntryVerificationError("signed entry timestamp", str(e)) from e


def verify_v2_tlog_entry(entry: TlogEntry, log_key: NoteVerifier) -> None:
    """Verify a Rekor v2 entry: its log ID is `log_key`'s (the Ed25519 note key of
    the log's origin, all 32 bytes), its inclusion proof, and its checkpoint,
    signed by `log_key` for that proof's tree size and root.  A v2 entry has no
    SET.  Raises EntryVerificationError as verify_tlog_entry does."""
    if log_key.sig_type != SIG_ED25519:
        raise EntryVerificationError("log ID", "a Rekor v2 log key is an Ed25519 note key")
    log_id = ed25519_log_id(log_key.name, log_key.key)
    if entry.log_id != log_id:
        raise EntryVerificationError(
            "log ID", f"entry log ID {entry.log_id.hex()} is not the key's {log_id.hex()}")
    _verify_inclusion(entry)
    try:
        cp = verify_c2sp_checkpoint(entry.checkpoint, [log_key])
    except CheckpointError as e:
        raise EntryVerificationError("checkpoint", str(e)) from e
    if cp.origin != log_key.name:
        raise EntryVerificationError("checkpoint", f"checkpoint origin {cp.origin!r} is not "
                                                   f"the log's {log_key.name!r}")
    _check_head(entry, cp)


def _verify_inclusion(entry: TlogEntry) -> None:
    if not entry.proof_log_index < entry.tree_size:
        raise EntryVerificationError(
            "inclusion proof",
            f"leaf index {entry.proof_log_index} is not below tree size {entry.tree_size}")
    try:
        merkle.verify_inclusion(merkle.leaf_hash(entry.body), entry.proof_log_index,
                                entry.tree_size, list(entry.hashes), entry.root_hash)
    except ValueError as e:  # ProofError is a ValueError
        raise EntryVerificationError("inclusion proof", str(e)) from e


def _verify_checkpoint(entry: TlogEntry, verifier: LogVerifier, name: str | None) -> None:
    try:
        cp = verify_checkpoint(entry.checkpoint, verifier, name=name)
    except CheckpointError as e:
        raise EntryVerificationError("checkpoint", str(e)) from e
    _check_head(entry, cp)


def _check_head(entry: TlogEntry, cp: Checkpoint) -> None:
    """The checkpoint is of the proof's tree size and root."""
    if cp.size != entry.tree_size:
        raise EntryVerificationError(
            "checkpoint", f"checkpoint size {cp.size} != proof tree size {entry.tree_size}")
    if cp.root_hash != entry.root_hash:
        raise EntryVerificationError(
            "checkpoint", f"checkpoint root {cp.root_hash.hex()} != proof root "
                          f"{entry.root_hash.hex()}")


# ---- field readers: each raises EntryVerificationError("entry", ...) -----------------


def _unwrap(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept a LogEntry or `{entryID: LogEntry}` (exactly one key)."""
    data = _as_map(data, "log entry")
    if "body" not in data and len(data) == 1:
        return _as_map(next(iter(data.values())), "log entry")
    return data


def _as_map(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EntryVerificationError("entry", f"{where} must be a JSON object")
    return value


def _get(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise EntryVerificationError("entry", f"{where} is missing")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EntryVerificationError("entry", f"{where} has the wrong JSON type")
    return value


def _int(value: int, where: str) -> int:
    if not 0 <= value <= _MAX_INT64:
        raise EntryVerificationError("entry", f"{where} is out of range")
    return value


def _json_int(value: object, where: str) -> int:
    """A JSON number that is a non-negative int64 (LogEntry fields)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise EntryVerificationError("entry", f"{where} must be an integer")
    return _int(value, where)


def _proto_int(value: object, where: str) -> int:
    """A protobuf-JSON int64: a canonical decimal string or a JSON integer; absent is 0."""
    if value is None:
        return 0  # protobuf JSON omits fields holding the default value
    if isinstance(value, str):
        if not _DECIMAL_RE.fullmatch(value):
            raise EntryVerificationError("entry", f"{where} is not a decimal integer")
        value = int(value)
    return _json_int(value, where)


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EntryVerificationError("entry", f"{where} is not valid base64") from e


def _b64_32(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise EntryVerificationError("entry", f"{where} must be a base64 string")
    raw = _b64(value, where)
    if len(raw) != merkle.HASH_SIZE:
        raise EntryVerificationError("entry", f"{where} must decode to 32 bytes")
    return raw


def _hex(value: object, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise EntryVerificationError("entry", f"{where} must be 64 lowercase hex digits")
    return bytes.fromhex(value)


def _proof_fields(proof: Mapping[str, Any], hash_of: Callable[[object, str], bytes],
                  int_of: Callable[[object, str], int]) -> dict[str, Any]:
    """The inclusionProof fields shared by both shapes, decoded with the shape's readers."""
    hashes = proof.get("hashes")
    if hashes is None:
        hashes = []  # protobuf JSON omits empty repeated fields (1-leaf tree)
    if not isinstance(hashes, list):
        raise EntryVerificationError("entry", "inclusionProof.hashes must be a list")
    checkpoint = proof.get("checkpoint")
    if isinstance(checkpoint, Mapping):  # bundle: {"envelope": text}
        checkpoint = checkpoint.get("envelope")
    if not isinstance(checkpoint, str):
        raise EntryVerificationError("entry", "inclusionProof.checkpoint is missing")
    return {
        "proof_log_index": int_of(proof.get("logIndex"), "inclusionProof.logIndex"),
        "tree_size": int_of(proof.get("treeSize"), "inclusionProof.treeSize"),
        "root_hash": hash_of(proof.get("rootHash"), "inclusionProof.rootHash"),
        "hashes": tuple(hash_of(h, "inclusionProof.hashes[]") for h in hashes),
        "checkpoint": checkpoint,
    }
