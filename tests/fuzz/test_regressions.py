"""Bugs the fuzzers found, each pinned by a hand-built input named after it.

cryptography parses a certificate's extensions and signature algorithm
lazily, so a certificate that loads can still raise on first use.  Before the
fix, a hashedrekord entry signed by the key of a certificate with a malformed
SubjectAlternativeName passed verification and then raised ValueError while
its index keys were built: a 500 from POST /api/v1/log/entries.  Go's
x509.ParseCertificate refuses such certificates, so they are now refused at
parse time (InvalidKeyError, a 400).
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from rekor_py.errors import InvalidEntry
from rekor_py.log.c2sp import CheckpointError, NoteVerifier
from rekor_py.pki import InvalidKeyError, InvalidSignatureError, X509PublicKey
from rekor_py.types import parse_entry
from tests.unit.pki import cert_pem, make_cert, make_chain

_EMAIL = b"fuzz@example.com"
# A SAN rfc822Name: context tag [1], length 16, the address.
_SAN_NAME = b"\x81\x10" + _EMAIL
# ecdsa-with-SHA256 (1.2.840.10045.4.3.2), as an AlgorithmIdentifier's OID.
_ECDSA_SHA256_OID = b"\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"


def _pem(der: bytes) -> bytes:
    # Not via cryptography: it would re-encode what it parsed.
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


def _malformed_san_cert(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A self-signed certificate whose SAN name claims more bytes than its extension holds."""
    der = make_cert(key, "leaf", sans=[x509.RFC822Name(_EMAIL.decode())]).public_bytes(
        serialization.Encoding.DER)
    assert der.count(_SAN_NAME) == 1
    return _pem(der.replace(_SAN_NAME, b"\x81\x7f" + _EMAIL))


def _duplicate_extension_cert(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A certificate with two BasicConstraints extensions (the second renamed into place)."""
    placeholder = x509.ObjectIdentifier("2.5.29.99")  # same encoded length as 2.5.29.19
    cert = make_cert(key, "leaf", extra=[(x509.UnrecognizedExtension(placeholder, b"\x30\x00"), False)])
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    return _pem(der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x13"))


def test_x509_malformed_san_is_invalid_key() -> None:
    with pytest.raises(InvalidKeyError, match="malformed certificate"):
        X509PublicKey.from_bytes(_malformed_san_cert(ec.generate_private_key(ec.SECP256R1())))


def test_x509_duplicate_extension_is_invalid_key() -> None:
    with pytest.raises(InvalidKeyError, match="malformed certificate"):
        X509PublicKey.from_bytes(_duplicate_extension_cert(ec.generate_private_key(ec.SECP256R1())))


def test_hashedrekord_signed_under_malformed_san_cert_is_400() -> None:
    """The 500 itself: a valid signature by the certificate's key, then index keys."""
    key = ec.generate_private_key(ec.SECP256R1())
    artifact = b"malformed SAN"
    proposed = {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(artifact).hexdigest()}},
            "signature": {
                "content": base64.b64encode(key.sign(artifact, ec.ECDSA(hashes.SHA256()))).decode(),
                "publicKey": {"content": base64.b64encode(_malformed_san_cert(key)).decode()},
            },
        },
    }
    with pytest.raises(InvalidEntry) as raised:
        entry = parse_entry(proposed, insertable_kinds=frozenset({"hashedrekord"}))
        entry.index_keys()
    assert raised.value.status == 400


def test_x509_chain_with_unknown_signature_algorithm_is_invalid_signature() -> None:
    """A chain whose leaf names an unknown signature algorithm: Go's CheckSignatureFrom
    fails (ErrUnsupportedAlgorithm); cryptography raised UnsupportedAlgorithm from
    Certificate.signature_hash_algorithm, a 500."""
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf, inter, root = make_chain(leaf_key)
    der = leaf.public_bytes(serialization.Encoding.DER)
    # Both copies (in the TBS and outside it) name 1.2.840.10045.4.3.127 instead.
    assert der.count(_ECDSA_SHA256_OID) == 2
    bad_leaf = _pem(der.replace(_ECDSA_SHA256_OID, _ECDSA_SHA256_OID[:-1] + b"\x7f"))
    key = X509PublicKey.from_bytes(bad_leaf + cert_pem(inter, root))
    with pytest.raises(InvalidSignatureError, match="certificate signature verification failure"):
        key.verify(leaf_key.sign(b"data", ec.ECDSA(hashes.SHA256())), b"data")


def test_note_verifier_key_with_surplus_padding_is_refused() -> None:
    """Python's base64 decoder ignores an '=' after the padding, so `from_vkey` took
    `...D21=` and `...D21==` for one key and printed it back differently (found by
    test_note_verifier_keys)."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    vkey = NoteVerifier.ed25519("example.com/log", key).vkey
    assert NoteVerifier.from_vkey(vkey).vkey == vkey
    for spelling in (vkey + "=", vkey + "=="):
        with pytest.raises(CheckpointError, match="canonical base64"):
            NoteVerifier.from_vkey(spelling)
