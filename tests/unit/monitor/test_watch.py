"""The monitor's watch list against entries a log other than ours may have accepted."""

from __future__ import annotations

import base64
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.monitor.watch import Watchlist
from rekor_py.types.hashedrekord_v2 import canonical_body
from tests.unit.pki import make_cert, with_version_field


def _v002_body(cert_der: bytes) -> bytes:
    """A Rekor v2 hashedrekord body whose verifier is the DER certificate given."""
    return canonical_body(hashlib.sha256(b"a").digest(), "SHA2_256", b"sig",
                          {"x509Certificate": {"rawBytes": base64.b64encode(cert_der).decode()},
                           "keyDetails": "PKIX_ECDSA_P256_SHA_256"})


def test_a_version_2_certificate_is_no_match_and_no_crash() -> None:
    """cryptography raises InvalidVersion, not a ValueError, for a version field of 1:
    the monitor must not stop on it."""
    cert = make_cert(ec.generate_private_key(ec.SECP256R1()), "leaf",
                     sans=[x509.RFC822Name("a@example.com")])
    der = cert.public_bytes(serialization.Encoding.DER)
    bad = with_version_field(der, 1)
    watch = Watchlist(["a@example.com"], [])
    # The same certificate with its proper version matches: the body shape is right.
    assert [m.log_index for m in watch.scan(7, [_v002_body(der)], bytes(32))] == [7]
    assert watch.scan(7, [_v002_body(bad)], bytes(32)) == []
