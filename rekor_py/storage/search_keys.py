"""How search keys are stored: 16 bytes of SHA-256 of the key, as a uuid.

An entry's keys (hashes, emails, key fingerprints, 40 to 130 characters) were
rows of their own, each with a copy in a primary key: ~300 B per key.  Stored
as fixed 16-byte hashes in an array in the entry's own row, under a GIN index
(whose posting lists take a few bytes per entry for a key many entries share),
they take ~40 B an entry.

Why 16 bytes and no re-check against the body: a search answers the entries
whose stored key hash equals the hash of the term.  With 128 bits, an entry that
answers a search for another key needs a second preimage of truncated SHA-256
(2**128 work, 2**105 against any of 10**7 logged keys), so the answers are the
same as with the keys themselves; an 8-byte hash would need each candidate's
body parsed again to rule out forged collisions, which are within reach at 2**64
(2**41 against any logged key).  uuid is only the container: a fixed 16-byte
type without a length header, which GIN's array_ops indexes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

__all__ = ["key_hash", "key_hashes"]


def key_hash(key: str) -> uuid.UUID:
    """The stored form of one search key.  A term that is not valid Unicode (a lone
    surrogate: types/ never stores one) still hashes, and matches nothing."""
    return uuid.UUID(bytes=hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:16])


def key_hashes(keys: Iterable[str]) -> list[uuid.UUID] | None:
    """An entry's stored search keys: distinct, sorted; None when it has none."""
    hashes = sorted({key_hash(k) for k in keys})
    return hashes or None
