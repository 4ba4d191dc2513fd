"""PreparedEntry: what a verified entry hands the sequencer.

Its own module so that verification workers (log/verify_pool.py), which build
it, need not import the sequencer's storage stack.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PreparedEntry"]


@dataclass(frozen=True, slots=True)
class PreparedEntry:
    """An entry that parsed and verified: what the log stores for it."""

    body: bytes
    leaf_hash: bytes
    kind: str
    api_version: str
    index_keys: tuple[str, ...] = ()
    attestation: bytes | None = None
    # `body` as storage/body_codec.py stores it, when the verification worker made
    # it (prepare.prepare_raw); None: the sequencer's insert makes it.
    stored_body: bytes | None = None
