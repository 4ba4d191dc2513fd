"""The Rekor v2 log: its key, its log ID, and the TransparencyLogEntry it answers.

A Rekor v2 log (as sigstore/rekor-tiles serves it) is a c2sp.org/tlog-tiles log
of hashedrekord 0.0.2 entries.  Its checkpoint is a C2SP signed note whose
origin is the log's URL without the scheme (e.g. "rekor.example.org"), signed
by an Ed25519 key (signature type 0x01).  There are no SETs and no
integrated time: clients prove the entry's time with an RFC 3161 timestamp.

Clients identify the log by its log ID: the full 32-byte Ed25519 key ID of
c2sp.org/signed-note, SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ raw public key), of which
the checkpoint's signature line carries the first 4 bytes.

The answer to a write is a dev.sigstore.rekor.v1.TransparencyLogEntry in
protobuf JSON as rekor-tiles emits it (protojson, EmitUnpopulated): int64
fields as decimal strings, bytes as standard base64, unset fields present
(`integratedTime` "0", `inclusionPromise` null).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import NoteSigner, ed25519_log_id, format_c2sp_checkpoint
from rekor_py.log.checkpoint import Checkpoint
from rekor_py.log.sequencer import HeadSigner
from rekor_py.log.service import LogService
from rekor_py.log.signer import Signer

__all__ = ["KIND", "VERSION", "V2Log", "transparency_log_entry"]

KIND = "hashedrekord"
VERSION = "0.0.2"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class V2Log:
    """The v2 tree's service, its origin (= checkpoint name) and its Ed25519 key
    (in memory or in a token)."""

    service: LogService
    origin: str
    key: Signer

    @staticmethod
    def head_signer(origin: str, key: Signer | ed25519.Ed25519PrivateKey) -> HeadSigner:
        """The sequencer's checkpoint signer for the v2 tree: one Ed25519 line."""
        signers = [NoteSigner.ed25519(origin, key)]

        def sign(size: int, root_hash: bytes) -> str:
            return format_c2sp_checkpoint(Checkpoint(origin, size, root_hash), signers)

        return sign

    @property
    def note_signer(self) -> NoteSigner:
        return NoteSigner.ed25519(self.origin, self.key)

    @property
    def public_key_raw(self) -> bytes:
        return self.key.public_key.public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)

    @property
    def public_key_der(self) -> bytes:
        """The DER SubjectPublicKeyInfo, as a trusted root lists a PKIX_ED25519 key."""
        return self.key.public_key.public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def log_id(self) -> bytes:
        """SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ raw key): all 32 bytes of the note key ID."""
        return ed25519_log_id(self.origin, self.public_key_raw)


def transparency_log_entry(log_id: bytes, leaf_index: int, body: bytes, tree_size: int,
                           root_hash: bytes, proof: Sequence[bytes],
                           checkpoint: str) -> dict[str, Any]:
    """The TransparencyLogEntry of a hashedrekord 0.0.2 entry at `leaf_index`, with
    its inclusion proof at (tree_size, root_hash) and that head's checkpoint."""
    return {
        "logIndex": str(leaf_index),
        "logId": {"keyId": _b64(log_id)},
        "kindVersion": {"kind": KIND, "version": VERSION},
        "integratedTime": "0",
        "inclusionPromise": None,
        "inclusionProof": {
            "logIndex": str(leaf_index),
            "rootHash": _b64(root_hash),
            "treeSize": str(tree_size),
            "hashes": [_b64(h) for h in proof],
            "checkpoint": {"envelope": checkpoint},
        },
        "canonicalizedBody": _b64(body),
    }
