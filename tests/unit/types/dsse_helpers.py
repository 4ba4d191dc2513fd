"""Builders for the DSSE-based kinds' tests: fresh keys, signed envelopes, proposed entries.

Envelopes are signed here with `cryptography`, over DSSE's PAE, the way
sigstore clients sign them (SHA-256 for RSA and ECDSA, pure Ed25519).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from rekor_py.errors import InvalidEntry, UnprocessableEntity
from rekor_py.types import parse_entry
from rekor_py.types.base import EntryType
from rekor_py.types.dsse_envelope import pae
from tests.unit.pki import PrivateKey, cert_pem, make_cert, spki_pem

VECTORS = Path(__file__).parents[2] / "vectors" / "types"
IN_TOTO = "application/vnd.in-toto+json"

P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
RSA2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED25519 = ed25519.Ed25519PrivateKey.generate()
OTHER = ec.generate_private_key(ec.SECP256R1())
CERT_KEY = ec.generate_private_key(ec.SECP256R1())
CERT = make_cert(CERT_KEY, "signer", sans=[x509.RFC822Name("Alice@Example.com")])

# An in-toto v0.1 statement with an SLSA 0.2 predicate: two subjects, one material.
STATEMENT: dict[str, Any] = {
    "_type": "https://in-toto.io/Statement/v0.1",
    "predicateType": "https://slsa.dev/provenance/v0.2",
    "subject": [
        {"name": "a.tar.gz", "digest": {"sha256": "AA" * 32}},
        {"name": "b.whl", "digest": {"sha512": "bb" * 64, "sha256": "cc" * 32}},
    ],
    "predicate": {
        "builder": {"id": "https://ci.example"},
        "buildType": "make",
        "metadata": {"buildStartedOn": "2024-01-02T03:04:05Z", "completeness": {"materials": True}},
        "materials": [{"uri": "git+https://src.example", "digest": {"sha1": "dd" * 20}}],
    },
}
STATEMENT_BYTES = json.dumps(STATEMENT).encode()
STATEMENT_KEYS = ["sha256:" + "aa" * 32, "sha256:" + "cc" * 32, "sha512:" + "bb" * 64, "sha1:" + "dd" * 20]


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def pem_of(key: PrivateKey | x509.Certificate) -> bytes:
    return cert_pem(key) if isinstance(key, x509.Certificate) else spki_pem(key)


def key_hash_key(key: PrivateKey | x509.Certificate) -> str:
    """The `sha256:<hex of canonical PEM>` index key; our test PEMs are already canonical."""
    return "sha256:" + sha256_hex(pem_of(key))


def sign(key: PrivateKey, message: bytes, *, digest: hashes.HashAlgorithm | None = None, p1363: bool = False) -> bytes:
    """Sign `message` as sigstore does: SHA-256 (or `digest`) for RSA/ECDSA, pure Ed25519."""
    algorithm = digest or hashes.SHA256()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), algorithm)
    der = key.sign(message, ec.ECDSA(algorithm))
    if not p1363:
        return der
    r, s = utils.decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def envelope_dict(
    payload: bytes,
    signers: Sequence[PrivateKey],
    *,
    payload_type: str = IN_TOTO,
    keyids: Sequence[str] | None = None,
    digest: hashes.HashAlgorithm | None = None,
    p1363: bool = False,
) -> dict[str, Any]:
    message = pae(payload_type, payload)
    sigs = [
        {"keyid": (keyids[i] if keyids else ""), "sig": b64(sign(k, message, digest=digest, p1363=p1363))}
        for i, k in enumerate(signers)
    ]
    return {"payloadType": payload_type, "payload": b64(payload), "signatures": sigs}


def envelope_text(payload: bytes, signers: Sequence[PrivateKey], **kwargs: Any) -> str:
    return json.dumps(envelope_dict(payload, signers, **kwargs), separators=(",", ":"))


def dsse_entry(envelope: str, verifiers: Sequence[bytes]) -> dict[str, Any]:
    return {
        "kind": "dsse",
        "apiVersion": "0.0.1",
        "spec": {"proposedContent": {"envelope": envelope, "verifiers": [b64(v) for v in verifiers]}},
    }


def intoto1_entry(envelope: str, key_pem: bytes) -> dict[str, Any]:
    return {"kind": "intoto", "apiVersion": "0.0.1",
            "spec": {"content": {"envelope": envelope}, "publicKey": b64(key_pem)}}


def intoto2_entry(envelope: dict[str, Any], key_pems: Sequence[bytes],
                  envelope_hash: str | None = "ab" * 32) -> dict[str, Any]:
    """intoto 0.0.2 from a DSSE envelope dict: payload and sig double base64, a key per signature."""
    sigs = []
    for s, pem in zip(envelope["signatures"], key_pems, strict=True):
        item = {"sig": b64(s["sig"]), "publicKey": b64(pem)}
        if s.get("keyid"):
            item["keyid"] = s["keyid"]
        sigs.append(item)
    content: dict[str, Any] = {
        "envelope": {"payloadType": envelope["payloadType"], "payload": b64(envelope["payload"]), "signatures": sigs}
    }
    if envelope_hash is not None:
        content["hash"] = {"algorithm": "sha256", "value": envelope_hash}
    return {"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": content}}


def submit(entry: Any, kind: str) -> EntryType:
    """The insertion path (POST): allow-list, Insertable and algorithm policy on."""
    return parse_entry(entry, insertable_kinds=frozenset({kind}))


def error_of(entry: Any, kind: str | None) -> str:
    """The client message of the InvalidEntry that parsing `entry` raises (kind=None: search path)."""
    with pytest.raises(InvalidEntry) as e:
        parse_entry(entry, insertable_kinds=None if kind is None else frozenset({kind}))
    assert e.value.status == 400
    return e.value.client_message


def only_invalid_entry(entry: Any) -> None:
    """Parsing junk may fail, but only with InvalidEntry or the envelope's 422."""
    with contextlib.suppress(InvalidEntry, UnprocessableEntity):
        parse_entry(entry)
