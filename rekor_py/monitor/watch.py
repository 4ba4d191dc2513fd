"""Matching entries against watched public keys and email addresses.

Only hashedrekord bodies are looked into (other kinds never match): the key is
the PEM in spec.signature.publicKey.content (base64) of a 0.0.1 body (Rekor
v1), or the DER certificate or public key of a 0.0.2 body's verifier (Rekor
v2), parsed by rekor_py.pki's x509 format, which takes a public key, a
certificate or a chain.  A watched
key matches when the entry's signing key (the leaf certificate's, for a
certificate) has the same SubjectPublicKeyInfo; an email matches a leaf
certificate SAN, case-insensitively.  Parsed keys are cached by their text
(a byte-bounded LRU), since uploaders reuse keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from rekor_py.lru import ByteLRU
from rekor_py.pki.base import PKIError
from rekor_py.pki.x509 import X509PublicKey

__all__ = ["Match", "Watchlist", "key_spki"]

# Entries' keys are read from the log, so only logged keys are kept; by bytes,
# since a certificate chain can be 100 times a bare key.
_CACHE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Match:
    log_index: int
    leaf_hash: bytes
    kind: str
    reason: str  # "key <hex SPKI hash prefix>" or "email <address>"

    def format(self) -> str:
        return (f"match: log_index={self.log_index} entry_uuid={self.leaf_hash.hex()} "
                f"kind={self.kind} {self.reason}")


def key_spki(pem: bytes) -> bytes:
    """The DER SPKI of a PEM key (or a certificate's key); raises PKIError."""
    key = X509PublicKey.from_bytes(pem).public_key
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class Watchlist:
    def __init__(self, emails: Iterable[str] = (), key_pems: Iterable[bytes] = ()) -> None:
        """Raises PKIError for a watched key that does not parse."""
        self.emails = frozenset(e.strip().lower() for e in emails)
        self.keys = frozenset(key_spki(pem) for pem in key_pems)
        # (value,) per key text, None for one that does not parse; bounded by bytes.
        self._parsed: ByteLRU[str, tuple[tuple[bytes, frozenset[str]] | None]] = ByteLRU(
            _CACHE_BYTES, lambda k, v: 2 * len(k) + (len(v[0][0]) + sum(map(len, v[0][1])) if v[0] else 0))

    def __bool__(self) -> bool:
        return bool(self.emails or self.keys)

    def scan(self, first_index: int, entries: Sequence[bytes], leaf_hashes: bytes) -> list[Match]:
        """Matches among `entries`, the leaves first_index, first_index+1, ..."""
        if not self:
            return []
        return [Match(first_index + i, leaf_hashes[32 * i:32 * i + 32], "hashedrekord", reason)
                for i, body in enumerate(entries)
                for reason in self._reasons(body)]

    def _reasons(self, body: bytes) -> list[str]:
        found = _hashedrekord_key(body)
        if found is None:
            return []
        parsed = self._key(*found)
        if parsed is None:
            return []
        spki, identities = parsed
        reasons = []
        if spki in self.keys:
            reasons.append(f"key {spki.hex()[-16:]}")
        reasons += [f"email {e}" for e in sorted(identities & self.emails)]
        return reasons

    def _key(self, content: str, form: str) -> tuple[bytes, frozenset[str]] | None:
        """The SPKI and identities of a base64 key in the given form (_KEY_PATHS)."""
        cache_key = form + content
        cached = self._parsed.get(cache_key)
        if cached is not None:
            return cached[0]
        value: tuple[bytes, frozenset[str]] | None
        try:
            data = base64.b64decode(content, validate=True)
            key = (X509PublicKey.from_bytes(data) if form == "pem"
                   else X509PublicKey.from_der(data, certificate=form == "certificate"))
            spki = key.public_key.public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
            value = (spki, frozenset(i.lower() for i in key.identities()))
        except (PKIError, binascii.Error, ValueError):
            value = None
        self._parsed.put(cache_key, (value,))
        return value


# Where a hashedrekord body holds its key, by apiVersion, and in what form: 0.0.1
# (Rekor v1) has a base64 PEM, 0.0.2 (Rekor v2) a base64 DER certificate or public key,
# and its field says which.
_KEY_PATHS: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "0.0.1": [(("spec", "signature", "publicKey", "content"), "pem")],
    "0.0.2": [(("spec", "hashedRekordV002", "signature", "verifier", "x509Certificate",
                "rawBytes"), "certificate"),
              (("spec", "hashedRekordV002", "signature", "verifier", "publicKey",
                "rawBytes"), "public key")],
}


def _hashedrekord_key(body: bytes) -> tuple[str, str] | None:
    """The base64 key of a hashedrekord body and its form (_KEY_PATHS), or None."""
    try:
        obj: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or obj.get("kind") != "hashedrekord":
        return None
    version = obj.get("apiVersion")
    for path, form in _KEY_PATHS.get(version if isinstance(version, str) else "", []):
        node: Any = obj
        for name in path:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node, form
    return None

