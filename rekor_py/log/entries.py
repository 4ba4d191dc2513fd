"""Entry identifiers and the Rekor v1 LogEntry shape (docs/rekor-compat.md#identifiers,
#log-entry).

An EntryID is the tree ID as 16 hex digits followed by the 64-hex leaf hash; a
LogEntry is a one-key object mapping it to the body, times, indexes and the
verification block (inclusion proof with its checkpoint, and the SET: the one
stored when the entry was logged, or, for a row logged before SETs were kept, one
signed for this response).
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass

from pydantic_core import to_json

from rekor_py.api.models import (
    Attestation,
    InclusionProof,
    LogEntry,
    LogEntryAnon,
    Verification,
)
from rekor_py.errors import InvalidRequest
from rekor_py.log.set import set_from_stored
from rekor_py.log.signer import LogSigner
from rekor_py.storage.log_store import EntryRow

log = logging.getLogger(__name__)

__all__ = ["EntryAnswer", "ParsedEntryID", "entry_id", "log_entry", "parse_entry_id",
           "stored_signature"]

_ENTRY_ID = re.compile(r"(?:[0-9a-fA-F]{16})?[0-9a-fA-F]{64}")


def entry_id(tree_id: int, leaf_hash: bytes) -> str:
    """The 80-hex EntryID: tree ID (16 hex, zero padded) + leaf hash."""
    return f"{tree_id:016x}{leaf_hash.hex()}"


@dataclass(frozen=True, slots=True)
class ParsedEntryID:
    tree_id: int | None  # None for a bare 64-hex UUID: search every tree
    leaf_hash: bytes


def parse_entry_id(value: str) -> ParsedEntryID:
    """Parse a 64- or 80-hex entry ID; raises InvalidRequest otherwise."""
    if not isinstance(value, str) or not _ENTRY_ID.fullmatch(value):
        raise InvalidRequest(f"invalid entryID {str(value)[:100]}")
    if len(value) == 64:
        return ParsedEntryID(None, bytes.fromhex(value))
    tree_id = int(value[:16], 16)
    if tree_id == 0 or tree_id >= 1 << 63:
        raise InvalidRequest(f"invalid entryID {value}")
    return ParsedEntryID(tree_id, bytes.fromhex(value[16:]))


@dataclass(frozen=True, slots=True)
class EntryAnswer:
    """A LogEntry as the API answers it: `json()` writes the bytes that the pydantic
    model (`model()`) would, without building it.  A read's answer is most of its
    work above the database, and building and encoding the four nested models took
    1.66x as long (bench/test_bench_answer.py; tests/unit/log/test_entry_answer.py
    holds the two equal)."""

    uuid: str
    body: bytes
    integrated_time: int
    log_id_hex: str
    log_index: int  # the virtual index
    leaf_index: int  # in its tree, as the inclusion proof counts
    tree_size: int
    root_hash: bytes
    checkpoint: str
    proof: list[bytes]
    signature: bytes
    attestation: bytes | None

    def model(self) -> LogEntry:
        value = LogEntryAnon(
            body=base64.b64encode(self.body).decode(),
            integratedTime=self.integrated_time,
            logID=self.log_id_hex,
            logIndex=self.log_index,
            verification=Verification(
                inclusionProof=InclusionProof(
                    checkpoint=self.checkpoint,
                    hashes=[h.hex() for h in self.proof],
                    logIndex=self.leaf_index,
                    rootHash=self.root_hash.hex(),
                    treeSize=self.tree_size,
                ),
                signedEntryTimestamp=base64.b64encode(self.signature).decode(),
            ),
            attestation=(Attestation(data=base64.b64encode(self.attestation).decode())
                         if self.attestation else None),
        )
        return LogEntry({self.uuid: value})

    def json(self) -> bytes:
        """The model's JSON (to_json_body without its final newline).  Every value
        but the checkpoint is base64, hex or an int, which JSON writes as is; the
        checkpoint (text with newlines) is escaped by the model's own encoder."""
        attestation = ("" if not self.attestation else
                       f',"attestation":{{"data":"{base64.b64encode(self.attestation).decode()}"}}')
        hashes = '["' + '","'.join([h.hex() for h in self.proof]) + '"]' if self.proof else "[]"
        return "".join((
            '{"', self.uuid, '":{"body":"', base64.b64encode(self.body).decode(),
            '","integratedTime":', str(self.integrated_time),
            ',"logID":"', self.log_id_hex, '","logIndex":', str(self.log_index),
            ',"verification":{"inclusionProof":{"checkpoint":', to_json(self.checkpoint).decode(),
            ',"hashes":', hashes, ',"logIndex":', str(self.leaf_index),
            ',"rootHash":"', self.root_hash.hex(),
            '","treeSize":', str(self.tree_size), '},"signedEntryTimestamp":"',
            base64.b64encode(self.signature).decode(), '"}', attestation, "}}")).encode()


def log_entry(row: EntryRow, *, virtual_index: int, tree_size: int, root_hash: bytes,
              checkpoint: str, proof: list[bytes], signer: LogSigner,
              signature: bytes) -> EntryAnswer:
    """The LogEntry answer for a stored entry and a proof at `tree_size`, with
    `signature` its SET by `signer` (stored_signature, or log/set.sign_set)."""
    return EntryAnswer(entry_id(row.tree_id, row.leaf_hash), row.body, row.integrated_time,
                       signer.log_id_hex, virtual_index, row.leaf_index, tree_size, root_hash,
                       checkpoint, proof, signature, row.attestation)


def stored_signature(row: EntryRow, signer: LogSigner) -> bytes | None:
    """The SET stored with the entry when it was logged, as the key made it; None if
    the row has none (logged before revision 0006) or holds a form this key never
    makes (a damaged row, which fsck names): then the caller signs one."""
    if row.signed_entry_timestamp is None:
        return None
    try:
        return set_from_stored(signer.verifier, row.signed_entry_timestamp)
    except ValueError:
        log.error("tree %d entry %d: its stored SET is unreadable; signing one for this "
                  "answer", row.tree_id, row.leaf_index)
        return None
