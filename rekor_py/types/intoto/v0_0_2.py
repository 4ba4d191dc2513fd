"""intoto 0.0.2 (docs/rekor-compat.md#intoto-002): a DSSE envelope sent as an object, a key
per signature.

Proposed spec (every field may be missing or of the wrong JSON type):

    content.envelope.payloadType           required
    content.envelope.payload               b64(the DSSE payload's base64 text): double base64
    content.envelope.signatures[]          at least one
        .sig                               b64(the DSSE sig's base64 text): double base64
        .publicKey                         b64(PEM key | certificate | chain)
        .keyid                             optional, ignored when verifying
    content.hash                           the client's envelope hash: kept, never checked
    content.payloadHash                    recomputed by the server

Every listed key must verify a signature and every signature must be verified
by some key. The leaf keeps payloadType, the signatures (as sent, keyid left
out when empty, publicKey not re-canonicalized), the client's hash and the
server's payloadHash; the payload is dropped.

A missing content.hash is a 500 in Rekor (its Canonicalize fails after
validation); we answer 400 "missing envelope digest (content.hash is
required)". Without a payload, Rekor reads the spec as a stored entry
(nothing verified): search accepts it, insertion does not.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
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
    get_b64_field,
    get_hash,
    hash_problem,
    key_index_keys,
    lowered_keys,
    parse_key_or_none,
    raise_schema_problems,
)
from rekor_py.types.dsse_envelope import (
    DSSEError,
    Envelope,
    EnvelopeSignature,
    sha256_hex,
    verify_with_key,
)
from rekor_py.types.go_json import go_string
from rekor_py.types.intoto_statement import IN_TOTO_PAYLOAD_TYPE, statement_index_keys

__all__ = ["IntotoV002", "IntotoV002Signature"]

_PREFIX = "content.envelope.signatures"


@dataclass(frozen=True)
class IntotoV002Signature:
    """One `signatures[]` item, its byte fields once-decoded (so `sig` is the DSSE base64 text)."""

    keyid: str
    sig: bytes | None
    public_key: bytes | None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Self:
        return cls(
            go_string(get_string(item, "keyid") or ""),
            get_b64_field(item, "sig", "signature"),
            get_b64_field(item, "publicKey", "public key"),
        )

    def problem(self, i: int) -> str | None:
        if self.sig is None:
            return f"{_PREFIX}.{i}.sig in body is required"
        if self.public_key is None:
            return f"{_PREFIX}.{i}.publicKey in body is required"
        return None

    def to_json(self) -> dict[str, str]:
        assert self.sig is not None and self.public_key is not None  # checked by the schema
        out = {"publicKey": base64.b64encode(self.public_key).decode(), "sig": base64.b64encode(self.sig).decode()}
        if self.keyid:
            out["keyid"] = self.keyid
        return out


@register
@dataclass(frozen=True)
class IntotoV002(EntryType):
    kind = "intoto"
    api_version = "0.0.2"

    payload_type: str
    signatures: tuple[IntotoV002Signature, ...]
    keys: tuple[X509PublicKey | None, ...]  # parsed signatures[].publicKey (None: unparsable, stored form)
    envelope_hash: HashValue
    payload_hash: HashValue
    payload: bytes | None  # the decoded DSSE payload; None for a stored entry
    not_insertable: str | None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Parse and verify; raises InvalidEntry with Rekor's message for the first failure."""
        content = get_object(spec, "content")
        env_obj = get_object(content, "envelope")
        payload_type = get_string(env_obj, "payloadType")
        payload_text = get_b64_bytes(env_obj, "payload", "payload")
        raw_sigs = env_obj.get("signatures") if env_obj is not None else None
        if isinstance(raw_sigs, list):
            # Each signature carries its own verifier key: one limit bounds both.
            check_envelope_limits(len(raw_sigs), payload_text or b"")
        sigs = (
            [IntotoV002Signature.from_json(s) for s in raw_sigs if isinstance(s, dict)]
            if isinstance(raw_sigs, list)
            else None
        )
        given_hash, given_payload_hash = get_hash(content, "hash"), get_hash(content, "payloadHash")
        raise_schema_problems([_envelope_problem(payload_type, sigs)
                               or hash_problem(given_hash, "content.hash")
                               or hash_problem(given_payload_hash, "content.payloadHash")])
        assert payload_type is not None and sigs
        payload_type = go_string(payload_type)
        if payload_text is None:
            return cls._stored(payload_type, sigs, given_hash, given_payload_hash)
        keys = _verify(Envelope(payload_type, payload_text.decode("latin-1"), tuple(
            EnvelopeSignature(s.keyid, (s.sig or b"").decode("latin-1")) for s in sigs)), sigs)
        payload = decode_std_base64(payload_text)
        if payload is None:
            raise InvalidEntry("could not decode envelope payload: illegal base64 data")
        if given_hash is None:
            raise InvalidEntry("missing envelope digest (content.hash is required)")
        not_insertable = _not_insertable(payload_type, sigs)
        payload_hash = HashValue("sha256", sha256_hex(payload))
        return cls(payload_type, tuple(sigs), keys, given_hash, payload_hash, payload, not_insertable)

    @classmethod
    def _stored(
        cls, payload_type: str, sigs: Sequence[IntotoV002Signature], h: HashValue | None, ph: HashValue | None
    ) -> Self:
        # Rekor's Unmarshal returns early without a payload; its Canonicalize then needs both hashes.
        if h is None:
            raise InvalidEntry("missing envelope digest (content.hash is required)")
        if ph is None:
            raise InvalidEntry("missing payload digest (content.payloadHash is required)")
        keys = tuple(parse_key_or_none(s.public_key or b"") for s in sigs)
        return cls(payload_type, tuple(sigs), keys, h, ph, None, "missing envelope content")

    def canonicalize(self) -> bytes:
        """Rekor's canonical form (docs/rekor-compat.md#intoto-002): payloadType,
        signatures as sent, the client's hash, the server's payloadHash."""
        spec = {
            "content": {
                "envelope": {"payloadType": self.payload_type, "signatures": [s.to_json() for s in self.signatures]},
                "hash": self.envelope_hash.to_json(),
                "payloadHash": self.payload_hash.to_json(),
            }
        }
        return canonical_json(self.kind, self.api_version, spec)

    def index_keys(self) -> list[str]:
        """Per signature sha256:<key hash> and subjects, the payload hash, in-toto digests
        (docs/rekor-compat.md#index-keys)."""
        keys: list[str] = []
        for key in self.keys:
            if key is not None:
                keys += key_index_keys(key)
        keys.append(self.payload_hash.index_key())
        if self.payload is not None and self.payload_type == IN_TOTO_PAYLOAD_TYPE:
            keys += statement_index_keys(self.payload, dsse=False)
        return lowered_keys(keys)

    def artifact_hash(self) -> str | None:
        """The payload hash, "sha256:<hex>", as Rekor's ArtifactHash."""
        return self.payload_hash.index_key().lower()

    def verifiers(self) -> list[PublicKey]:
        return [k for k in self.keys if k is not None]

    def attestation(self) -> bytes | None:
        """The decoded DSSE payload, which Rekor stores under "sha256:<payloadHash>"
        (docs/rekor-compat.md#attestations)."""
        return self.payload

    def verify_insertable(self) -> None:
        if self.not_insertable is not None:
            raise InvalidEntry(f"entry not insertable into log: {self.not_insertable}")


def _envelope_problem(payload_type: str | None, sigs: list[IntotoV002Signature] | None) -> str | None:
    if payload_type is None:
        return "content.envelope.payloadType in body is required"
    if sigs is None:
        return f"{_PREFIX} in body is required"
    if not sigs:
        return f"{_PREFIX} in body should have at least 1 items"
    return next((p for p in (s.problem(i) for i, s in enumerate(sigs)) if p is not None), None)


def _verify(env: Envelope, sigs: Sequence[IntotoV002Signature]) -> tuple[X509PublicKey, ...]:
    """Rekor's verifyEnvelope: each key in turn must match a signature; every signature must be matched."""
    unverified = {s.sig for s in env.signatures}
    keys: list[X509PublicKey] = []
    for item in sigs:
        try:
            key = X509PublicKey.from_bytes(item.public_key or b"")
        except PKIError as e:
            raise InvalidEntry(f"could not parse public key as x509: {e}") from e
        try:
            accepted, _ = verify_with_key(env, key)
        except DSSEError as e:
            raise InvalidEntry(f"could not verify envelope: {e}") from e
        unverified -= {s.sig for s in accepted}
        keys.append(key)
    if unverified:
        raise InvalidEntry("all signatures must have a key that verifies it")
    return tuple(keys)


def _not_insertable(payload_type: str, sigs: Sequence[IntotoV002Signature]) -> str | None:
    # Rekor's Insertable, after a successful verification.
    if not payload_type:
        return "missing payloadType content"
    for s in sigs:
        if not s.sig:
            return "missing signature content"
        if not s.public_key:
            return "missing publicKey content"
    return None
