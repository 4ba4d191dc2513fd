"""dsse 0.0.1 (docs/rekor-compat.md#dsse): a DSSE envelope whose every signature is verified.

Proposed spec (every field may be missing or of the wrong JSON type):

    proposedContent.envelope      the DSSE envelope as JSON text
    proposedContent.verifiers[]   b64(PEM key | certificate | chain), at least one

Verifiers are tried in order until every distinct signature is verified;
each one tried must verify a signature. Sending signatures, envelopeHash or
payloadHash beside proposedContent is refused. The leaf keeps
envelopeHash (SHA-256 of the envelope text as sent), payloadHash (SHA-256
of the decoded payload) and, sorted by the sig string with duplicates
collapsed, each signature with the canonical PEM of the key that verified it.

The stored form (signatures + envelopeHash + payloadHash, no proposedContent)
parses too, without verification, so that search by entry finds it;
insertion refuses it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import PKIError, PublicKey, is_padded_std_base64
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types import register
from rekor_py.types.base import EntryType, canonical_json, get_b64_bytes, get_object, get_string
from rekor_py.types.dsse_common import (
    HashValue,
    check_envelope_limits,
    check_limit,
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
    parse_envelope,
    sha256_hex,
    verify_with_key,
)
from rekor_py.types.go_json import go_string
from rekor_py.types.intoto_statement import IN_TOTO_PAYLOAD_TYPE, statement_index_keys

__all__ = ["DSSEV001", "DSSEV001Signature"]

# The schema's pattern for signatures[].signature (checked on the stored form only).
_SIG_PATTERN = r"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$"

_NOT_BOTH = "either proposedContent or envelopeHash, payloadHash, and signatures must be present"


@dataclass(frozen=True)
class DSSEV001Signature:
    signature: str  # the envelope's sig text, exactly as sent
    verifier: bytes  # the key's canonical PEM (proposed form) or the stored bytes

    def to_json(self) -> dict[str, str]:
        return {"signature": self.signature, "verifier": base64.b64encode(self.verifier).decode()}


@dataclass(frozen=True)
class _Spec:
    """The spec as Rekor's DecodeEntry reads it: None = absent or of the wrong JSON type."""

    proposed: Mapping[str, Any] | None
    envelope: str | None
    verifiers: list[bytes] | None
    signatures: list[tuple[str | None, bytes | None]] | None
    envelope_hash: HashValue | None
    payload_hash: HashValue | None

    @classmethod
    def read(cls, spec: Mapping[str, Any]) -> _Spec:
        proposed = get_object(spec, "proposedContent")
        raw_verifiers = proposed.get("verifiers") if proposed is not None else None
        verifiers = None
        if isinstance(raw_verifiers, list):
            check_limit("max_verifiers", len(raw_verifiers), "the number of verifiers")
            # Non-strings and empty strings are skipped, as Rekor's decoder does.
            verifiers = [
                get_b64_field({"v": v}, "v", "verifier") or b"" for v in raw_verifiers if isinstance(v, str) and v
            ]
        raw_sigs = spec.get("signatures")
        signatures = None
        if isinstance(raw_sigs, list):
            signatures = [
                (get_string(s, "signature"), get_b64_bytes(s, "verifier", "signature verifier"))
                for s in raw_sigs
                if isinstance(s, dict)
            ]
        return cls(
            proposed,
            get_string(proposed, "envelope"),
            verifiers,
            signatures,
            get_hash(spec, "envelopeHash"),
            get_hash(spec, "payloadHash"),
        )

    def problems(self) -> list[str | None]:
        """The schema problems, one per top-level property, in Rekor's order."""
        return [
            hash_problem(self.envelope_hash, "envelopeHash"),
            hash_problem(self.payload_hash, "payloadHash"),
            self._proposed_problem(),
            self._signatures_problem(),
        ]

    def _proposed_problem(self) -> str | None:
        if self.proposed is None:
            return None
        if self.envelope is None:
            return "proposedContent.envelope in body is required"
        if self.verifiers is None:
            return "proposedContent.verifiers in body is required"
        if not self.verifiers:
            return "proposedContent.verifiers in body should have at least 1 items"
        return None

    def _signatures_problem(self) -> str | None:
        if self.signatures is None:
            return None
        if not self.signatures:
            return "signatures in body should have at least 1 items"
        for i, (sig, verifier) in enumerate(self.signatures):
            if sig is None:
                return f"signatures.{i}.signature in body is required"
            if not sig or not is_padded_std_base64(sig):  # the pattern, without `re`
                return f"signatures.{i}.signature in body should match '{_SIG_PATTERN}'"
            if verifier is None:
                return f"signatures.{i}.verifier in body is required"
        return None


@register
@dataclass(frozen=True)
class DSSEV001(EntryType):
    kind = "dsse"
    api_version = "0.0.1"

    signatures: tuple[DSSEV001Signature, ...]  # sorted by signature
    keys: tuple[X509PublicKey | None, ...]  # parsed verifiers, one per signature (None: unparsable, stored form)
    envelope_hash: HashValue
    payload_hash: HashValue
    payload_type: str | None  # None for a stored entry
    statement_keys: tuple[str, ...]  # in-toto digests, read while the payload was at hand
    not_insertable: str | None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Parse and verify; raises InvalidEntry with Rekor's message for the first failure."""
        s = _Spec.read(spec)
        raise_schema_problems(s.problems())
        if s.proposed is None:
            return cls._stored(s)
        if s.envelope_hash is not None or s.payload_hash is not None or s.signatures:
            raise InvalidEntry(_NOT_BOTH + " but not both")
        assert s.envelope is not None and s.verifiers is not None  # checked by the schema
        envelope = go_string(s.envelope)
        try:
            env = parse_envelope(envelope)
        except DSSEError as e:
            raise InvalidEntry(str(e)) from e
        if not env.signatures:
            raise InvalidEntry("DSSE envelope must contain 1 or more signatures")
        check_envelope_limits(len(env.signatures), env.payload)
        by_sig, payload = _verify(env, s.verifiers)
        ordered = sorted(by_sig)
        statement = statement_index_keys(payload, dsse=True) if env.payload_type == IN_TOTO_PAYLOAD_TYPE else []
        return cls(
            tuple(DSSEV001Signature(sig, by_sig[sig].canonical_value()) for sig in ordered),
            tuple(by_sig[sig] for sig in ordered),
            HashValue("sha256", sha256_hex(envelope.encode("utf-8"))),
            HashValue("sha256", sha256_hex(payload)),
            env.payload_type,
            tuple(statement),
            None,
        )

    @classmethod
    def _stored(cls, s: _Spec) -> Self:
        if s.envelope_hash is None or s.payload_hash is None or not s.signatures:
            raise InvalidEntry(_NOT_BOTH)
        # Stored signatures are kept as given (Rekor sorts them, stably here, and collapses nothing).
        items = sorted(
            (DSSEV001Signature(go_string(sig or ""), verifier or b"") for sig, verifier in s.signatures),
            key=lambda item: item.signature,
        )
        keys = tuple(parse_key_or_none(item.verifier) for item in items)
        return cls(tuple(items), keys, s.envelope_hash, s.payload_hash, None, (), "missing proposed content")

    def canonicalize(self) -> bytes:
        """{"envelopeHash","payloadHash","signatures":[{"signature","verifier"}...]}
        (docs/rekor-compat.md#dsse)."""
        spec = {
            "envelopeHash": self.envelope_hash.to_json(),
            "payloadHash": self.payload_hash.to_json(),
            "signatures": [s.to_json() for s in self.signatures],
        }
        return canonical_json(self.kind, self.api_version, spec)

    def index_keys(self) -> list[str]:
        """Per signature sha256:<key hash> and subjects, payload hash, envelope hash, in-toto digests."""
        keys: list[str] = []
        for key in self.keys:
            if key is not None:
                keys += key_index_keys(key)
        keys += [self.payload_hash.index_key(), self.envelope_hash.index_key(), *self.statement_keys]
        return lowered_keys(keys)

    def artifact_hash(self) -> str | None:
        """The payload hash, "sha256:<hex>", as Rekor's ArtifactHash."""
        return self.payload_hash.index_key().lower()

    def verifiers(self) -> list[PublicKey]:
        return [k for k in self.keys if k is not None]

    def verify_insertable(self) -> None:
        if self.not_insertable is not None:
            raise InvalidEntry(f"entry not insertable into log: {self.not_insertable}")


def _verify(env: Envelope, verifiers: Sequence[bytes]) -> tuple[dict[str, X509PublicKey], bytes]:
    """Rekor's verifyEnvelope: {sig text: the key that verified it}, and the payload.

    Verifiers are tried until no signature is left unverified; each one tried
    must match a signature. Raises InvalidEntry.
    """
    unverified = {s.sig for s in env.signatures}
    by_sig: dict[str, X509PublicKey] = {}
    payload = b""
    for key_bytes in verifiers:
        if not unverified:
            break
        try:
            key = X509PublicKey.from_bytes(key_bytes)
        except PKIError as e:
            raise InvalidEntry(f"could not parse public key as x509: {e}") from e
        try:
            accepted, payload = verify_with_key(env, key)
        except DSSEError as e:
            raise InvalidEntry(f"could not verify envelope: {e}") from e
        for s in accepted:
            unverified.discard(s.sig)
            by_sig[s.sig] = key
    if unverified:
        raise InvalidEntry("all signatures must have a key that verifies it")
    return by_sig, payload
