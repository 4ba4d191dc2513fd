"""Shared builders for pki and types tests: fresh keys, certificates and chains."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def spki_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def make_cert(
    key: PrivateKey,
    name: str,
    issuer_key: PrivateKey | None = None,
    issuer_name: str | None = None,
    *,
    ca: bool = False,
    not_before: datetime.datetime = T0,
    not_after: datetime.datetime = T0 + 365 * DAY,
    sans: Sequence[x509.GeneralName] = (),
    path_length: int | None = None,
    extra: Sequence[tuple[x509.ExtensionType, bool]] = (),
    basic_constraints: bool = True,
) -> x509.Certificate:
    """A certificate for `key`, signed by `issuer_key` (self-signed when None)."""
    signer = issuer_key or key
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), False)
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical)
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def make_chain(
    leaf_key: PrivateKey, sans: Sequence[x509.GeneralName] = ()
) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate]:
    """leaf <- intermediate <- root, all P-256 CAs except the leaf."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert(root_key, "root", ca=True)
    inter = make_cert(inter_key, "intermediate", root_key, "root", ca=True)
    leaf = make_cert(leaf_key, "leaf", inter_key, "intermediate", sans=sans)
    return leaf, inter, root


def with_version_field(der: bytes, value: int) -> bytes:
    """A certificate's DER with its version field set to `value` (2 is X.509 v3, as
    make_cert writes it; 1, v2, is what cryptography refuses with InvalidVersion)."""
    version_3 = b"\xa0\x03\x02\x01\x02"
    assert der.count(version_3) == 1
    return der.replace(version_3, version_3[:-1] + bytes([value]))
