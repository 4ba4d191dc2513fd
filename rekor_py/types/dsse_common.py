"""Small pieces the DSSE-based kinds (intoto 0.0.1, intoto 0.0.2, dsse 0.0.1) share.

Owns: the `{algorithm, value}` hash objects of their schemas (reading and
the schema check), `format: byte` fields that Go decodes even when empty,
Rekor's "validation failure list" message, the per-key index keys
(`sha256:`-prefixed key hash, then the leaf certificate's subjects), and
the cap on index key length. Leaves everything kind-specific to the kinds.

Schema messages: Go's generated validators report, per top-level property,
only the first problem found inside it, but print nested paths with their
prefix repeated (go-openapi errors' ValidateName); we report the same
problems, in the same order, with each path printed once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import PKIError, decode_std_base64
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types.base import (
    MAX_INDEX_KEY_LENGTH,
    check_index_key_count,
    check_limit,
    get_object,
    get_string,
)
from rekor_py.types.go_json import go_string

__all__ = [
    "HashValue",
    "check_envelope_limits",
    "check_limit",
    "get_b64_field",
    "get_hash",
    "hash_problem",
    "key_index_keys",
    "lowered_keys",
    "parse_key_or_none",
    "raise_schema_problems",
]



@dataclass(frozen=True)
class HashValue:
    """A schema hash object; either part is None when absent or not a string."""

    algorithm: str | None
    value: str | None

    def to_json(self) -> dict[str, str]:
        """The canonical `{"algorithm","value"}`; requires both parts (checked by the schema)."""
        assert self.algorithm is not None and self.value is not None
        return {"algorithm": go_string(self.algorithm), "value": go_string(self.value)}

    def index_key(self) -> str:
        return f"{self.algorithm}:{self.value}"


def get_hash(parent: Mapping[str, Any] | None, key: str) -> HashValue | None:
    """parent[key] as a HashValue if it is a JSON object, else None (Go's decoder drops it)."""
    obj = get_object(parent, key)
    if obj is None:
        return None
    return HashValue(get_string(obj, "algorithm"), get_string(obj, "value"))


def hash_problem(h: HashValue | None, path: str) -> str | None:
    """The first schema problem of a present hash object (enum [sha256]), or None."""
    if h is None:
        return None
    if h.algorithm is None:
        return f"{path}.algorithm in body is required"
    if h.algorithm != "sha256":
        return f"{path}.algorithm in body should be one of [sha256]"
    if h.value is None:
        return f"{path}.value in body is required"
    return None


def raise_schema_problems(problems: Iterable[str | None]) -> None:
    """Raise InvalidEntry("validation failure list:\\n...") if any problem is set."""
    found = [p for p in problems if p is not None]
    if found:
        raise InvalidEntry("validation failure list:\n" + "\n".join(found))


def get_b64_field(parent: Mapping[str, Any] | None, key: str, what: str) -> bytes | None:
    """A `format: byte` string decoded even when empty (Go's explicit Decode); None if not a string.

    Raises InvalidEntry("failed parsing base64 data for <what>: illegal base64 data").
    """
    text = get_string(parent, key)
    if text is None:
        return None
    try:
        decoded = decode_std_base64(text.encode("ascii"))
    except UnicodeEncodeError:
        decoded = None
    if decoded is None:
        raise InvalidEntry(f"failed parsing base64 data for {what}: illegal base64 data")
    return decoded


def parse_key_or_none(data: bytes) -> X509PublicKey | None:
    """A key from a stored (canonical) body, where Rekor does not parse it before canonicalizing."""
    try:
        return X509PublicKey.from_bytes(data)
    except PKIError:
        return None


def key_index_keys(key: X509PublicKey) -> list[str]:
    """`sha256:<hex of the canonical PEM>` then the leaf subjects (intoto and dsse,
    docs/rekor-compat.md#index-keys)."""
    return ["sha256:" + hashlib.sha256(key.canonical_value()).hexdigest(), *key.identities()]


def lowered_keys(keys: Iterable[str]) -> list[str]:
    """Lowercased, in order, without keys over MAX_INDEX_KEY_LENGTH; too many refuse the
    entry.  A key PostgreSQL cannot store (NUL) refuses it too, in log/prepare.py: dropped
    here, the entry would be logged yet not findable by that key."""
    found = [k.lower() for k in keys if len(k) <= MAX_INDEX_KEY_LENGTH]
    check_index_key_count(len(found))
    return found



def check_envelope_limits(signatures: int, payload_text: str | bytes) -> None:
    """Refuse an envelope with too many signatures or too large a payload, before any decoding.

    Each signature costs a verification per key tried, and the payload is
    decoded and hashed; its size is read off the base64 text's length.
    """
    check_limit("max_envelope_signatures", signatures, "the number of signatures in the envelope")
    padding = 2 if payload_text[-2:] in ("==", b"==") else 1 if payload_text[-1:] in ("=", b"=") else 0
    check_limit("max_payload_bytes", len(payload_text) * 3 // 4 - padding, "the decoded payload size in bytes")
