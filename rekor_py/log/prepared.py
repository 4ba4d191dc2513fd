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

    def __reduce__(self) -> tuple[type[PreparedEntry], tuple[object, ...]]:
        # Verification workers send these back by pickle: as the constructor and its
        # arguments they pickle in C, where the getstate/setstate that dataclasses
        # give slotted classes run in Python: 8 us an entry there and back, 2.4 here.
        return PreparedEntry, (self.body, self.leaf_hash, self.kind, self.api_version,
                               self.index_keys, self.attestation, self.stored_body)
