"""EntryType: what every (kind, api_version) implementation provides, plus JSON helpers.

An entry type turns a proposed `spec` into a verified object (`from_spec`), and
that object into the exact leaf bytes (`canonicalize`), its search index keys,
its artifact hash and its verifiers. It does no I/O. Handlers never branch on
kind; they call these members through the registry in types/__init__.py.

The helpers below read untrusted JSON the way Rekor's Go decoders do: a field
of the wrong JSON type is treated as absent (it never raises TypeError or
KeyError), an empty string is absent, and `format: byte` fields are strict
standard base64 (docs/rekor-compat.md#jcs).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from rekor_py import jcs, limits
from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import PublicKey, decode_std_base64

__all__ = [
    "MAX_INDEX_KEY_LENGTH",
    "EntryType",
    "canonical_json",
    "check_index_key_count",
    "get_b64_bytes",
    "get_object",
    "get_string",
    "leaf_hash",
    "signer_index_keys",
]


# Rekor's MySQL index column is varchar(512).  Longer keys (SANs, in-toto
# digests: client text) could never be written there, and a huge one breaks
# PostgreSQL's btree index (about 2.7 kB a row), failing the whole batch it is
# in, so they are not indexed: the entry is still logged, just not findable by
# that key.  api/entries.py applies this to every kind.
MAX_INDEX_KEY_LENGTH = 512


class EntryType(ABC):
    """One version of one entry kind. Instances are verified and immutable."""

    kind: ClassVar[str]
    api_version: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Strictly parse a proposed `spec` and verify every signature; raises InvalidEntry."""

    @abstractmethod
    def canonicalize(self) -> bytes:
        """The exact leaf bytes: RFC 8785 JSON of {"apiVersion","kind","spec"} (deterministic)."""

    @abstractmethod
    def index_keys(self) -> list[str]:
        """Search index keys (docs/rekor-compat.md#index-keys), lowercased, in Rekor's order."""

    @abstractmethod
    def artifact_hash(self) -> str | None:
        """The artifact digest as "<alg>:<hex>" (lowercase), or None if the kind has none."""

    @abstractmethod
    def verifiers(self) -> list[PublicKey]:
        """The keys that verified this entry."""

    def attestation(self) -> bytes | None:
        """Bytes Rekor keeps beside the leaf and serves as `attestation.data`
        (docs/rekor-compat.md#attestations), or None.

        Only intoto does; the size cap is the caller's (Settings.max_attestation_bytes).
        """
        return None

    def verify_insertable(self) -> None:
        """Refuse, on the insertion path only, an entry parsed from a stored (canonical) form.

        Rekor's EntryImpl.Insertable: search accepts canonical bodies that carry
        no envelope to verify, POST must not. Raises InvalidEntry.
        """
        return None

    def verify_client_algorithms(self, allowed: frozenset[str]) -> None:
        """Apply the client signing-algorithm policy; raises InvalidEntry.

        Rekor applies it to hashedrekord only, on insertion only, so the default
        allows everything.
        """
        return None


def canonical_json(kind: str, api_version: str, spec: Mapping[str, Any]) -> bytes:
    """JCS bytes of the wrapped entry, the leaf every kind stores (docs/rekor-compat.md#jcs)."""
    return jcs.dumps({"apiVersion": api_version, "kind": kind, "spec": dict(spec)})


def leaf_hash(canonical_body: bytes) -> bytes:
    """RFC 6962 leaf hash SHA-256(0x00 || body): the entry UUID, raw."""
    return hashlib.sha256(b"\x00" + canonical_body).digest()


def signer_index_keys(public_key: PublicKey, artifact_key: str) -> list[str]:
    """hashedrekord's and rekord's keys (docs/rekor-compat.md#index-keys): the bare hex
    SHA-256 of the canonical key, the key's identities, then the artifact's
    "<alg>:<hex>"; lowercased."""
    key_hash = hashlib.sha256(public_key.canonical_value()).hexdigest()
    # A NUL (possible in a certificate SAN) cannot be stored in PostgreSQL text: log/prepare.py
    # refuses the entry with a 400 rather than log it unfindable by that key.
    keys = [k.lower() for k in (key_hash, *public_key.identities(), artifact_key)]
    check_index_key_count(len(keys))
    return keys


def check_index_key_count(count: int) -> None:
    """Refuse an entry that would write more than limits.max_index_keys search keys (a 400).

    Rekor writes every key (each SAN, each in-toto subject) with no bound;
    here one entry cannot make the sequencer write an unbounded index batch.
    The entry is refused rather than indexed in part, so that a search never
    silently misses it.
    """
    check_limit("max_index_keys", count, "the number of search index keys of the entry")


def check_limit(name: str, found: int, what: str) -> None:
    """Raise InvalidEntry naming limits.<name> if `found` exceeds it."""
    limit = getattr(limits.current(), name)
    if found > limit:
        raise InvalidEntry(limits.limit_error_message(name, found, limit, what))


def get_object(parent: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    """parent[key] if it is a JSON object, else None (absent or of the wrong type)."""
    if parent is None:
        return None
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def get_string(parent: Mapping[str, Any] | None, key: str) -> str | None:
    """parent[key] if it is a JSON string, else None. An empty string stays a string."""
    if parent is None:
        return None
    value = parent.get(key)
    return value if isinstance(value, str) else None


def get_b64_bytes(parent: Mapping[str, Any] | None, key: str, what: str) -> bytes | None:
    """Decode a `format: byte` field; None when absent, empty or not a string.

    Raises InvalidEntry("failed parsing base64 data for <what>: ...") on bad base64.
    """
    text = get_string(parent, key)
    if not text:
        return None
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raw = None
    decoded = decode_std_base64(raw) if raw is not None else None
    if decoded is None:
        raise InvalidEntry(f"failed parsing base64 data for {what}: illegal base64 data")
    return decoded
