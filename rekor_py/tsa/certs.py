"""The TSA's signing key and certificate chain: load them, or create them on first start.

The key file is handled exactly as the log key is (log/signer.py): PEM, mode 0600,
refused when it is a symlink or readable by group or others, created atomically.

The chain file is PEM, the TSA certificate first and the root last, as
`GET /api/v1/timestamp/certchain` serves it.  Created on first start, it holds two
certificates:

- a self-signed root CA (10 years).  Its private key signs the TSA certificate and is
  then dropped: it is never written anywhere, so no one, not even this server, can
  issue a second certificate under the root that clients trust;
- the TSA certificate (5 years) for our key.  RFC 3161 section 2.3 wants its
  ExtendedKeyUsage to be id-kp-timeStamping alone and critical; rfc3161-client (what
  sigstore-python verifies with) refuses a token whose certificate lacks either.

An operator's chain (leaf, any intermediates, root) is checked the same way on load:
the leaf holds our public key and that EKU, each certificate is signed by the next,
the last is self-signed, and the leaf is valid now.  Raises KeyFileError.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rekor_py.log.signer import FileKey, KeyFileError, LogSigner, PrivateKey, Signer, as_signer
from rekor_py.statefile import create_new_file

__all__ = [
    "ROOT_VALIDITY",
    "TSA_VALIDITY",
    "check_chain",
    "check_key",
    "chain_pem",
    "create_chain",
    "load_or_create_chain",
    "load_or_create_key",
]

ROOT_VALIDITY = datetime.timedelta(days=3652)
TSA_VALIDITY = datetime.timedelta(days=1826)
# Clocks of verifiers run a little behind ours: start validity a few minutes back.
_BACKDATE = datetime.timedelta(minutes=5)
_CURVES = (ec.SECP256R1, ec.SECP384R1)
# A chain of a few certificates is a few KiB; refuse to read anything much larger.
_MAX_CHAIN_FILE_BYTES = 256 * 1024
_ORGANIZATION = "rekor-py"


def check_key(key: Signer | PrivateKey, source: str) -> Signer:
    """`key` as a Signer, if it is ECDSA P-256 or P-384; raises KeyFileError."""
    signer = as_signer(key)
    public = signer.public_key
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, _CURVES):
        raise KeyFileError(f"{source} is not an ECDSA P-256 or P-384 key")
    return signer


def load_or_create_key(path: Path, *, create: bool = True) -> FileKey:
    """The TSA key at `path`: ECDSA P-256 or P-384, unencrypted PEM.

    With `create`, a missing file is created (a fresh P-256 key, mode 0600, atomically:
    concurrent first starts agree on one key); without, it is a KeyFileError."""
    try:
        loaded = LogSigner._load_file(path, None)
    except FileNotFoundError:
        if not create:
            raise KeyFileError(f"TSA key file {path} does not exist") from None
        fresh = LogSigner.generate()
        loaded = fresh if fresh._create_file(path, None) else LogSigner._load_file(path, None)
    key = loaded.signer
    check_key(key, f"TSA key {path}")
    assert isinstance(key, FileKey)  # loaded from a file
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _serial() -> int:
    # RFC 5280: positive, at most 20 octets; random, so two chains never share one.
    return x509.random_serial_number()


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.SHA256 | hashes.SHA384:
    return hashes.SHA384() if isinstance(key.curve, ec.SECP384R1) else hashes.SHA256()


def create_chain(key: Signer | PrivateKey,
                 now: datetime.datetime | None = None) -> list[x509.Certificate]:
    """[TSA certificate for `key` (an ECDSA key, in memory or in a token), self-signed
    root], the root's key thrown away."""
    public = check_key(key, "the TSA key").public_key
    assert isinstance(public, ec.EllipticCurvePublicKey)  # check_key
    start = (now or datetime.datetime.now(datetime.UTC)) - _BACKDATE
    root_key = ec.generate_private_key(public.curve)
    root_name = _name("rekor-py TSA root")
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(_serial())
        .not_valid_before(start).not_valid_after(start + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, _hash_for(root_key))
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("rekor-py timestamping")).issuer_name(root_name)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(start).not_valid_after(start + TSA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                       critical=False)
        .sign(root_key, _hash_for(root_key))
    )
    return [leaf, root]


def chain_pem(chain: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def check_chain(chain: Sequence[x509.Certificate], key: Signer | PrivateKey,
                now: datetime.datetime | None = None, source: str = "TSA chain") -> None:
    """Refuse a chain the TSA cannot sign under (module docstring); raises KeyFileError."""
    if len(chain) < 2:
        # sigstore-python skips a TSA whose chain lacks a root: tokens would never verify.
        raise KeyFileError(f"{source}: needs the TSA certificate and at least its root CA")
    leaf = chain[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (leaf.public_key().public_bytes(serialization.Encoding.DER, spki)
            != as_signer(key).public_key.public_bytes(serialization.Encoding.DER, spki)):
        raise KeyFileError(f"{source}: the first certificate is not for the TSA key")
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise KeyFileError(f"{source}: the TSA certificate has no ExtendedKeyUsage") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise KeyFileError(f"{source}: the TSA certificate's ExtendedKeyUsage must be "
                           "timeStamping alone, marked critical (RFC 3161 section 2.3)")
    for cert, issuer in zip(chain, [*chain[1:], chain[-1]], strict=True):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise KeyFileError(f"{source}: {cert.subject.rfc4514_string()} is not signed by "
                               f"{issuer.subject.rfc4514_string()}") from e
    moment = now or datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        raise KeyFileError(
            f"{source}: the TSA certificate is valid from {leaf.not_valid_before_utc} to "
            f"{leaf.not_valid_after_utc}, not now: tokens it signed would not verify")


def _read_chain(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file; FileNotFoundError passes through."""
    with open(path, "rb") as f:
        data = f.read(_MAX_CHAIN_FILE_BYTES + 1)
    if len(data) > _MAX_CHAIN_FILE_BYTES:
        raise KeyFileError(f"TSA chain {path} is larger than {_MAX_CHAIN_FILE_BYTES} bytes")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise KeyFileError(f"TSA chain {path} is not a PEM certificate chain") from e


def load_or_create_chain(path: Path, key: Signer | PrivateKey, *,
                         create: bool = True) -> list[x509.Certificate]:
    """The checked chain at `path`; with `create`, a new one for `key` when it is missing."""
    try:
        chain = _read_chain(path)
    except FileNotFoundError:
        if not create:
            raise KeyFileError(f"TSA chain file {path} does not exist") from None
        # False when another process of this server published its chain first: read
        # whichever won, so all processes serve one chain.
        try:
            create_new_file(path, chain_pem(create_chain(key)), 0o644)
        except OSError as e:
            raise KeyFileError(f"cannot create TSA chain {path}: {e.strerror}") from e
        chain = _read_chain(path)
    except OSError as e:
        raise KeyFileError(f"cannot read TSA chain {path}: {e.strerror}") from e
    check_chain(chain, key, source=f"TSA chain {path}")
    return chain
