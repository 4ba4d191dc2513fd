"""DSSE envelopes as Rekor's intoto and dsse kinds read and verify them
(docs/rekor-compat.md#intoto-001, #intoto-002, #dsse).

Owns: parsing an envelope's JSON text the way Go's json.Unmarshal fills
go-securesystemslib's `dsse.Envelope`, the pre-authentication encoding (PAE),
DSSE's lenient base64 (standard, then URL-safe), one key's pass over an
envelope (`EnvelopeVerifier.VerifyAndDecode` with a single verifier), and the
OpenSSH SHA256 fingerprint intoto 0.0.1 compares keyids against.

One key's pass, exactly as go-securesystemslib runs it with one provider:
the payload is decoded first; then every signature, in order, is decoded
(a bad one fails the whole pass, even after a match) and, while the key
has not matched yet, checked (a non-empty keyid that differs from the
key's id skips it); the key matches at most one signature. No match fails
with "accepted signatures do not match threshold, Found: 0, Expected 1".

Signatures are checked with the leaf key only (sigstore's LoadVerifier over
CryptoPubKey(), SHA-256): a certificate chain is not verified here, as in
Rekor. Leaves to the entry types which keys are tried, how results combine,
and every error prefix.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from rekor_py.pki.base import PKIError, decode_std_base64, decode_url_base64
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types.go_json import STRING, GoJSONError, ListOf, Struct, loads, unmarshal

__all__ = [
    "DSSEError",
    "Envelope",
    "EnvelopeSignature",
    "decode_dsse_base64",
    "pae",
    "sha256_hex",
    "parse_envelope",
    "ssh_key_id",
    "verify_with_key",
]

# go-securesystemslib's messages (dsse/verify.go, dsse/envelope.go).
NO_SIGNATURE = "no signature found"
BAD_BASE64 = "unable to base64 decode payload (is payload in the right format?)"
NO_MATCH = "accepted signatures do not match threshold, Found: 0, Expected 1"


class DSSEError(ValueError):
    """An envelope that does not parse or verify; str(e) is client-safe, without kind prefixes."""


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: str  # the base64 text, exactly as in the envelope


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: str  # the base64 text, exactly as in the envelope
    signatures: tuple[EnvelopeSignature, ...]

    @functools.cached_property
    def signed(self) -> tuple[bytes, bytes, bytes] | None:
        """(payload, PAE message, SHA-256 of the message), or None if the payload is not base64.

        Computed once per envelope, however many keys and signatures are tried."""
        body = decode_dsse_base64(self.payload)
        if body is None:
            return None
        message = pae(self.payload_type, body)
        return body, message, hashlib.sha256(message).digest()


_SIGNATURE_SHAPE = Struct("dsse.Signature", (("keyid", STRING), ("sig", STRING)))
_ENVELOPE_SHAPE = Struct(
    "dsse.Envelope",
    (("payloadType", STRING), ("payload", STRING), ("signatures", ListOf(_SIGNATURE_SHAPE, "[]dsse.Signature"))),
)


def parse_envelope(text: str) -> Envelope:
    """json.Unmarshal(text, &dsse.Envelope{}); raises DSSEError with Go's message."""
    try:
        decoded, error = unmarshal(_ENVELOPE_SHAPE, loads(text))
    except GoJSONError as e:
        raise DSSEError(str(e)) from e
    if error is not None:
        raise DSSEError(error)
    return _envelope_of(decoded)


def _envelope_of(decoded: dict[str, Any]) -> Envelope:
    signatures = tuple(EnvelopeSignature(s["keyid"], s["sig"]) for s in decoded["signatures"] or ())
    return Envelope(decoded["payloadType"], decoded["payload"], signatures)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding; lengths are byte lengths in decimal."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


def decode_dsse_base64(text: str) -> bytes | None:
    """go-securesystemslib's b64Decode: standard base64, else URL-safe; None if neither."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    decoded = decode_std_base64(raw)
    return decoded if decoded is not None else decode_url_base64(raw)


def verify_with_key(envelope: Envelope, key: X509PublicKey, key_id: str = "") -> tuple[list[EnvelopeSignature], bytes]:
    """One key's VerifyAndDecode pass: (the signature it matched, as a list, payload bytes).

    `key_id` is the id compared with non-empty signature keyids ("" disables
    the check, as Rekor's dsse and intoto 0.0.2 verifiers do). Raises DSSEError.
    """
    if not envelope.signatures:
        raise DSSEError(NO_SIGNATURE)
    signed = envelope.signed
    if signed is None:
        raise DSSEError(BAD_BASE64)
    body, message, digest = signed
    accepted: list[EnvelopeSignature] = []
    for signature in envelope.signatures:
        raw = decode_dsse_base64(signature.sig)
        if raw is None:
            raise DSSEError(BAD_BASE64)
        if accepted:
            continue  # the single provider is used up once it has matched
        if signature.keyid and key_id and signature.keyid != key_id:
            continue
        try:
            key.verify(raw, message, digest, check_chain=False)
        except PKIError:
            continue
        accepted.append(signature)
    if not accepted:
        raise DSSEError(NO_MATCH)
    return accepted, body


def ssh_key_id(key: X509PublicKey) -> str:
    """OpenSSH `SHA256:<b64, no padding>` of the key's wire encoding; "" where SSH has no such key type.

    go-securesystemslib's SHA256KeyID; Go's ssh package refuses P-224 keys,
    so those get "" and their keyids are never compared.
    """
    try:
        line = key.public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except ValueError:
        return ""
    blob = base64.b64decode(line.split(b" ")[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256, the form of every hash these kinds store."""
    return hashlib.sha256(data).hexdigest()
