"""intoto 0.0.1 (docs/rekor-compat.md#intoto-001): one x509 key, a DSSE envelope sent as a
JSON string.

Proposed spec (every field may be missing or of the wrong JSON type):

    publicKey              b64(PEM key | certificate | chain)
    content.envelope       the DSSE envelope as JSON text
    content.hash           ignored when an envelope is sent (schema-checked only)
    content.payloadHash    likewise

The key must verify at least one signature; only signatures whose keyid is
empty or the key's OpenSSH SHA256 fingerprint are tried. The server then sets
content.hash = SHA-256 of the envelope text exactly as sent and
content.payloadHash = SHA-256 of the decoded payload. The leaf keeps those
two hashes and the key as canonical PEM; the envelope is not stored.

Without an envelope, Rekor reads the spec as a stored entry (client hashes
kept, nothing verified): search accepts that, insertion does not.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import PKIError, PublicKey, decode_std_base64
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types import register
from rekor_py.types.base import EntryType, canonical_json, get_b64_bytes, get_object, get_string
from rekor_py.types.dsse_common import (
    HashValue,
    check_envelope_limits,
    get_hash,
    hash_problem,
    key_index_keys,
    lowered_keys,
    raise_schema_problems,
)
from rekor_py.types.dsse_envelope import (
    DSSEError,
    parse_envelope,
    sha256_hex,
    ssh_key_id,
    verify_with_key,
)
from rekor_py.types.go_json import go_string
from rekor_py.types.intoto_statement import IN_TOTO_PAYLOAD_TYPE, statement_index_keys

__all__ = ["IntotoV001"]


@register
@dataclass(frozen=True)
class IntotoV001(EntryType):
    kind = "intoto"
    api_version = "0.0.1"

    public_key: X509PublicKey
    envelope_hash: HashValue
    payload_hash: HashValue | None  # None only in old stored entries
    payload: bytes | None  # the decoded DSSE payload; None without an envelope
    payload_type: str | None
    not_insertable: str | None  # why POST must refuse it (Rekor's Insertable), or None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Parse and verify; raises InvalidEntry with Rekor's message for the first failure."""
        content = get_object(spec, "content")
        envelope = get_string(content, "envelope") or ""
        given_hash, given_payload_hash = get_hash(content, "hash"), get_hash(content, "payloadHash")
        key_bytes = get_b64_bytes(spec, "publicKey", "public key")
        raise_schema_problems(
            [
                "content in body is required"
                if content is None
                else hash_problem(given_hash, "content.hash")
                    or hash_problem(given_payload_hash, "content.payloadHash"),
                "publicKey in body is required" if key_bytes is None else None,
            ]
        )
        assert key_bytes is not None
        try:
            public_key = X509PublicKey.from_bytes(key_bytes)
        except PKIError as e:
            raise InvalidEntry(str(e)) from e
        if not envelope:
            if given_hash is None:
                raise InvalidEntry("missing hash value for envelope")
            return cls(public_key, given_hash, given_payload_hash, None, None, "missing envelope content")
        return cls._from_envelope(public_key, go_string(envelope))

    @classmethod
    def _from_envelope(cls, public_key: X509PublicKey, envelope: str) -> Self:
        try:
            env = parse_envelope(envelope)
            check_envelope_limits(len(env.signatures), env.payload)
            verify_with_key(env, public_key, ssh_key_id(public_key))
        except DSSEError as e:
            raise InvalidEntry(str(e)) from e
        # Rekor decodes the payload again with strict standard base64, so a
        # URL-safe payload verifies and is then refused here.
        payload = decode_std_base64(env.payload.encode("utf-8"))
        if payload is None:
            raise InvalidEntry("illegal base64 data")
        not_insertable = None if env.payload and env.payload_type else "invalid DSSE envelope"
        return cls(
            public_key,
            HashValue("sha256", sha256_hex(envelope.encode("utf-8"))),
            HashValue("sha256", sha256_hex(payload)),
            payload,
            env.payload_type,
            not_insertable,
        )

    def canonicalize(self) -> bytes:
        """{"content":{"hash","payloadHash"},"publicKey": b64(canonical PEM)}
        (docs/rekor-compat.md#intoto-001)."""
        content: dict[str, Any] = {"hash": self.envelope_hash.to_json()}
        if self.payload_hash is not None:
            content["payloadHash"] = self.payload_hash.to_json()
        spec = {"content": content, "publicKey": base64.b64encode(self.public_key.canonical_value()).decode()}
        return canonical_json(self.kind, self.api_version, spec)

    def index_keys(self) -> list[str]:
        """Envelope hash, sha256:<key hash>, subjects, payload hash, then in-toto digests
        (docs/rekor-compat.md#index-keys)."""
        keys = [self.envelope_hash.index_key(), *key_index_keys(self.public_key)]
        if self.payload_hash is not None:
            keys.append(self.payload_hash.index_key())
        if self.payload is not None and self.payload_type == IN_TOTO_PAYLOAD_TYPE:
            keys += statement_index_keys(self.payload, dsse=False)
        return lowered_keys(keys)

    def artifact_hash(self) -> str | None:
        """The payload hash, "sha256:<hex>", as Rekor's ArtifactHash (None in old entries without one)."""
        return self.payload_hash.index_key().lower() if self.payload_hash is not None else None

    def verifiers(self) -> list[PublicKey]:
        return [self.public_key]

    def attestation(self) -> bytes | None:
        """The decoded DSSE payload, which Rekor stores under "sha256:<payloadHash>"
        (docs/rekor-compat.md#attestations)."""
        return self.payload

    def verify_insertable(self) -> None:
        if self.not_insertable is not None:
            raise InvalidEntry(f"entry not insertable into log: {self.not_insertable}")
