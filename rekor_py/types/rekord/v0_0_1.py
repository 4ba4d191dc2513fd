"""rekord 0.0.1 (docs/rekor-compat.md#rekord): a detached signature over content the client
sends inline.

Proposed spec (every field may be missing or of the wrong JSON type):

    signature.format             "pgp" | "minisign" | "x509" | "ssh"
    signature.content            b64(signature, in that format's encoding)
    signature.publicKey.content  b64(public key, in that format's encoding)
    data.content                 b64(the whole artifact)          (write-only)
    data.hash                    {"algorithm": "sha256", "value": hex}   optional

The server hashes the content (SHA-256), compares it with a supplied hash as
an exact string (so an upper-case hash is a mismatch, as in Rekor), and
verifies the signature over the content with the format's parsers from
pki.FORMATS.  The leaf keeps the format, the canonical signature and key, and
the computed hash; the content itself is never stored (the server never
fetches URLs either: Rekor removed them in 2022).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from rekor_py.errors import InvalidEntry
from rekor_py.pki import FORMATS, PKIError, PublicKey, Signature
from rekor_py.types import register
from rekor_py.types.base import (
    EntryType,
    canonical_json,
    get_b64_bytes,
    get_object,
    get_string,
    signer_index_keys,
)

__all__ = ["RekordV001", "SIGNATURE_FORMATS"]

# The signature.format enum of rekord_v0_0_1_schema.json.
SIGNATURE_FORMATS = ("pgp", "minisign", "x509", "ssh")
# govalidator.IsHash(value, "sha256"): 64 hex digits.  Case is checked later,
# by the exact comparison with the computed hash.
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@register
@dataclass(frozen=True)
class RekordV001(EntryType):
    kind = "rekord"
    api_version = "0.0.1"

    pki_format: str
    signature: Signature
    public_key: PublicKey
    sha256_hex: str  # computed by the server, lowercase

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Self:
        """Parse and verify; raises InvalidEntry with Rekor's message for the first failure."""
        sig_obj = get_object(spec, "signature")
        key_obj = get_object(sig_obj, "publicKey")
        data_obj = get_object(spec, "data")
        hash_obj = get_object(data_obj, "hash")
        signature_bytes = get_b64_bytes(sig_obj, "content", "signature content")
        key_bytes = get_b64_bytes(key_obj, "content", "public key content")
        content = get_b64_bytes(data_obj, "content", "data content")
        pki_format = get_string(sig_obj, "format")
        _validate_schema(sig_obj, key_obj, hash_obj, pki_format)
        assert pki_format is not None  # guaranteed by the schema check
        supplied = get_string(hash_obj, "value")
        _validate_fields(signature_bytes, key_bytes, data_obj, content, supplied)
        assert signature_bytes is not None and key_bytes is not None and content is not None

        computed = hashlib.sha256(content).hexdigest()
        if supplied is not None and supplied != computed:
            raise InvalidEntry(f"SHA mismatch: {computed} != {supplied}")
        fmt = FORMATS.get(pki_format)
        if fmt is None:
            raise InvalidEntry(f"signature format '{pki_format}' is not supported by this server")
        try:
            signature = fmt.signature.from_bytes(signature_bytes)
            public_key = fmt.public_key.from_bytes(key_bytes)
            signature.verify(content, public_key)
        except PKIError as e:
            raise InvalidEntry(str(e)) from e
        return cls(pki_format, signature, public_key, computed)

    def canonicalize(self) -> bytes:
        """Leaf bytes as Rekor builds them (docs/rekor-compat.md#rekord): format, canonical
        signature and key, the computed hash."""
        spec = {
            "data": {"hash": {"algorithm": "sha256", "value": self.sha256_hex}},
            "signature": {
                "content": base64.b64encode(self.signature.canonical_value()).decode(),
                "format": self.pki_format,
                "publicKey": {"content": base64.b64encode(self.public_key.canonical_value()).decode()},
            },
        }
        return canonical_json(self.kind, self.api_version, spec)

    def index_keys(self) -> list[str]:
        """Key hash (bare hex of the canonical key), the key's identities, then "sha256:<hash>"."""
        return signer_index_keys(self.public_key, f"sha256:{self.sha256_hex}")

    def artifact_hash(self) -> str | None:
        return f"sha256:{self.sha256_hex}"

    def verifiers(self) -> list[PublicKey]:
        return [self.public_key]


def _validate_schema(sig_obj: Mapping[str, Any] | None, key_obj: Mapping[str, Any] | None,
                     hash_obj: Mapping[str, Any] | None, pki_format: str | None) -> None:
    """The JSON-schema checks of Rekor's generated model, in its order (data, then signature)."""
    problems: list[str] = []
    if hash_obj is not None:
        algorithm = get_string(hash_obj, "algorithm")
        if algorithm is None:
            problems.append("data.hash.algorithm in body is required")
        elif algorithm != "sha256":
            problems.append("data.hash.algorithm in body should be one of [sha256]")
        if get_string(hash_obj, "value") is None:
            problems.append("data.hash.value in body is required")
    if sig_obj is None:
        problems.append("signature in body is required")
    else:
        if pki_format is None:
            problems.append("signature.format in body is required")
        elif pki_format not in SIGNATURE_FORMATS:
            problems.append(f"signature.format in body should be one of [{' '.join(SIGNATURE_FORMATS)}]")
        if key_obj is None:
            problems.append("signature.publicKey in body is required")
    if problems:
        raise InvalidEntry("validation failure list:\n" + "\n".join(problems))


def _validate_fields(signature: bytes | None, key: bytes | None, data_obj: Mapping[str, Any] | None,
                     content: bytes | None, supplied_hash: str | None) -> None:
    """Rekor's cross-field checks: what an insertable (or searchable) rekord must carry."""
    if not signature:
        raise InvalidEntry("missing signature content")
    if not key:
        raise InvalidEntry("missing public key content")
    if data_obj is None:
        raise InvalidEntry("missing data")
    if supplied_hash is not None and _SHA256_HEX.fullmatch(supplied_hash) is None:
        raise InvalidEntry("invalid value for hash")
    if not content:
        # The content is write-only: the leaf never holds it, so a canonical
        # rekord body cannot be re-submitted (for search) without it, as in Rekor.
        raise InvalidEntry("missing data content")
