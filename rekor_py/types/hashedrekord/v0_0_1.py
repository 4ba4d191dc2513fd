"""hashedrekord 0.0.1 (docs/rekor-compat.md#hashedrekord): a signature over a client-supplied digest.

Proposed spec (every field may be missing or of the wrong JSON type):

    signature.content            b64(raw signature bytes)
    signature.publicKey.content  b64(PEM key | certificate | chain)   (x509 only)
    data.hash.algorithm          "sha256" | "sha384" | "sha512"
    data.hash.value              hex digest, 64/96/128 characters, any case

The signature is verified over the digest as supplied (a prehash). The leaf
keeps the signature bytes and the hash exactly as sent, and the key in its
canonical PEM. Errors follow Rekor's order and wording: base64, schema,
key, hash length, hex, signature.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, cast

from rekor_py.errors import InvalidEntry
from rekor_py.pki.base import HashName, PKIError, PublicKey
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types import register
from rekor_py.types.base import (
    EntryType,
    canonical_json,
    get_b64_bytes,
    get_object,
    get_string,
    signer_index_keys,
)

__all__ = ["DEFAULT_CLIENT_SIGNING_ALGORITHMS", "HashedRekordV001"]

# Rekor's --client-signing-algorithms default (pkg/api AllowedClientSigningAlgorithms).
DEFAULT_CLIENT_SIGNING_ALGORITHMS = frozenset(
    {
        "rsa-sign-pkcs1-2048-sha256",
        "rsa-sign-pkcs1-3072-sha256",
        "rsa-sign-pkcs1-4096-sha256",
        "ecdsa-sha2-256-nistp256",
        "ecdsa-sha2-384-nistp384",
        "ecdsa-sha2-512-nistp521",
        "ed25519",
        "ed25519-ph",
    }
)

# Hex characters per algorithm; the schema enum is case sensitive.
_HEX_LENGTHS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX = re.compile(r"[0-9a-fA-F]*")
# The canonical body (see canonicalize): algorithm, hash value, signature, key.
_CANONICAL = (b'{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"%s",'
              b'"value":"%s"}},"signature":{"content":"%s","publicKey":{"content":"%s"}}}}')


@register
@dataclass(frozen=True)
class HashedRekordV001(EntryType):
    kind = "hashedrekord"
    api_version = "0.0.1"

    signature: bytes
    public_key: X509PublicKey
    hash_algorithm: HashName
    hash_value: str  # exactly as supplied, case kept: it is part of the leaf

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Parse and verify; raises InvalidEntry with Rekor's message for the first failure."""
        sig_obj = get_object(spec, "signature")
        key_obj = get_object(sig_obj, "publicKey")
        signature = get_b64_bytes(sig_obj, "content", "signature content")
        key_bytes = get_b64_bytes(key_obj, "content", "public key content")
        hash_obj = get_object(get_object(spec, "data"), "hash")
        algorithm, value = get_string(hash_obj, "algorithm"), get_string(hash_obj, "value")
        _validate_schema(sig_obj, hash_obj, algorithm, value)
        assert algorithm is not None and value is not None  # guaranteed by the schema check

        if key_obj is None:
            raise InvalidEntry("missing public key")
        try:
            public_key = X509PublicKey.from_bytes(key_bytes or b"")
        except PKIError as e:
            raise InvalidEntry(str(e)) from e
        hash_name = cast(HashName, algorithm)
        digest = _decode_digest(value, hash_name)
        try:
            public_key.verify_digest(signature or b"", digest, hash_name)
        except PKIError as e:
            raise InvalidEntry(f"verifying signature: {e}") from e
        return cls(signature or b"", public_key, hash_name, value)

    def canonicalize(self) -> bytes:
        """Leaf bytes as Rekor builds them (docs/rekor-compat.md#hashedrekord); the same
        entry always gives the same bytes."""
        signature = base64.b64encode(self.signature)
        key = base64.b64encode(self.public_key.canonical_value())
        hash_fields = self.hash_algorithm + self.hash_value
        if hash_fields.isascii() and hash_fields.isalnum():
            # Every value is then ASCII letters, digits or base64, which JCS writes
            # as is between quotes, and the keys below are in JCS order: these are
            # jcs.dumps's bytes (tests/unit/types/test_hashedrekord.py compares them),
            # made without walking and encoding a dict (a tenth of the time).
            return _CANONICAL % (self.hash_algorithm.encode(), self.hash_value.encode(), signature, key)
        spec = {
            "data": {"hash": {"algorithm": self.hash_algorithm, "value": self.hash_value}},
            "signature": {"content": signature.decode(), "publicKey": {"content": key.decode()}},
        }
        return canonical_json(self.kind, self.api_version, spec)

    def index_keys(self) -> list[str]:
        """Key hash (bare hex of the canonical PEM), leaf-cert subjects, then "<alg>:<value>"."""
        return signer_index_keys(self.public_key, f"{self.hash_algorithm}:{self.hash_value}")

    def artifact_hash(self) -> str | None:
        return f"{self.hash_algorithm}:{self.hash_value}".lower()

    def verifiers(self) -> list[PublicKey]:
        return [self.public_key]

    def verify_client_algorithms(self, allowed: frozenset[str]) -> None:
        """Reject key/hash pairs outside `allowed` (sigstore algorithm names); raises InvalidEntry."""
        if not self.public_key.signing_algorithms(self.hash_algorithm) & allowed:
            raise InvalidEntry("entry algorithms are not allowed")


def _validate_schema(
    sig_obj: Mapping[str, Any] | None, hash_obj: Mapping[str, Any] | None, algorithm: str | None, value: str | None
) -> None:
    """The JSON-schema checks Rekor's generated model runs, in its order (data, then signature)."""
    problems: list[str] = []
    if hash_obj is None:
        # Rekor's decoder only keeps `data` when `data.hash` is an object.
        problems.append("data in body is required")
    else:
        if algorithm is None:
            problems.append("data.hash.algorithm in body is required")
        elif algorithm not in _HEX_LENGTHS:
            problems.append("data.hash.algorithm in body should be one of [sha256 sha384 sha512]")
        if value is None:
            problems.append("data.hash.value in body is required")
    if sig_obj is None:
        problems.append("signature in body is required")
    if problems:
        raise InvalidEntry("validation failure list:\n" + "\n".join(problems))


def _decode_digest(value: str, hash_name: HashName) -> bytes:
    # Go measures the length in bytes, then hex-decodes (upper case is fine).
    raw = value.encode("utf-8")
    if len(raw) != _HEX_LENGTHS[hash_name]:
        raise InvalidEntry("invalid value for hash")
    if _HEX.fullmatch(value) is None:
        raise InvalidEntry(_go_hex_error(raw))
    return bytes.fromhex(value)


def _go_hex_error(raw: bytes) -> str:
    # encoding/hex.InvalidByteError: the first offending byte, formatted with %#U.
    bad = next(b for b in raw if chr(b) not in "0123456789abcdefABCDEF")
    char = chr(bad)
    shown = f" '{char}'" if char.isprintable() else ""
    return f"encoding/hex: invalid byte: U+{bad:04X}{shown}"
