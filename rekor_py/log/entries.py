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

__all__ = ["ParsedEntryID", "entry_id", "log_entry", "parse_entry_id", "stored_signature"]

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


def log_entry(row: EntryRow, *, virtual_index: int, tree_size: int, root_hash: bytes,
              checkpoint: str, proof: list[bytes], signer: LogSigner,
              signature: bytes) -> LogEntry:
    """The one-key LogEntry object for a stored entry and a proof at `tree_size`, with
    `signature` its SET by `signer` (stored_signature, or log/set.sign_set)."""
    value = LogEntryAnon(
        body=base64.b64encode(row.body).decode(),
        integratedTime=row.integrated_time,
        logID=signer.log_id_hex,
        logIndex=virtual_index,
        verification=Verification(
            inclusionProof=InclusionProof(
                checkpoint=checkpoint,
                hashes=[h.hex() for h in proof],
                logIndex=row.leaf_index,
                rootHash=root_hash.hex(),
                treeSize=tree_size,
            ),
            signedEntryTimestamp=base64.b64encode(signature).decode(),
        ),
        attestation=(Attestation(data=base64.b64encode(row.attestation).decode())
                     if row.attestation else None),
    )
    return LogEntry({entry_id(row.tree_id, row.leaf_hash): value})


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
