"""A private Sigstore PKI for tests: a root CA, an intermediate, and a CT log, issuing
leaf certificates shaped like Fulcio's.

Real keyless signing gives every signature a fresh key in a short-lived certificate:
no subject, the signer's identity as a SAN (email here), the OIDC issuer in Fulcio's
extensions (1.3.6.1.4.1.57264.1.1, the raw string, and 1.3.6.1.4.1.57264.1.8, a DER
UTF8String), code-signing EKU, and one embedded SCT from a CT log.  Clients check all of
it (sigstore-python insists on the SCT; cosign and sigstore-go check it unless told not
to), so the tests' organization runs the same shape with its own CA and CT key, as a
private deployment would.

The SCT is the RFC 6962 precertificate kind: the CT key signs the leaf's TBSCertificate
without the SCT-list extension, with the issuer's key hash.  We build the leaf once
without the extension (that TBS is exactly what a verifier rebuilds by removing it),
sign the SCT over it, then build the same certificate again with the extension last.
"""

from __future__ import annotations

import datetime
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = ["OIDC_ISSUER", "FulcioPKI", "Leaf", "pem", "spki_der"]

OIDC_ISSUER = "https://oidc.rekor-py.test"

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

_UTC = datetime.UTC


def spki_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


@dataclass
class Leaf:
    """A Fulcio-shaped leaf certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def sign(self, data: bytes) -> bytes:
        """A DER ECDSA P-256/SHA-256 signature over `data`, as cosign and sigstore make."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class FulcioPKI:
    """A root CA, an intermediate CA (the issuer of leaves), and a CT log key."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate
    ct_key: ec.EllipticCurvePrivateKey
    not_before: datetime.datetime

    @classmethod
    def create(cls, name: str = "rekor-py test") -> FulcioPKI:
        """A new PKI; its CA certificates are valid from an hour ago for ten years."""
        now = datetime.datetime.now(_UTC).replace(microsecond=0)
        not_before = now - datetime.timedelta(hours=1)
        root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                               x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
        root = cls._ca_cert(root_name, root_name, root_key.public_key(), root_key,
                            not_before, path_length=1)
        intermediate_key = ec.generate_private_key(ec.SECP384R1())
        inter_name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} intermediate")])
        intermediate = cls._ca_cert(inter_name, root_name, intermediate_key.public_key(),
                                    root_key, not_before, path_length=0)
        return cls(root_key, root, intermediate_key, intermediate,
                   ec.generate_private_key(ec.SECP256R1()), not_before)

    @staticmethod
    def _ca_cert(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
                 signer: ec.EllipticCurvePrivateKey, not_before: datetime.datetime,
                 path_length: int) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                           critical=False))
        if subject != issuer:  # Fulcio's intermediate: code signing, and who issued it
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False)
        return builder.sign(signer, hashes.SHA384())

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf-most first, as a trusted root's certChain and cosign's chain file list them."""
        return [self.intermediate, self.root]

    @property
    def chain_pem(self) -> bytes:
        return b"".join(pem(c) for c in self.chain)

    @property
    def ct_log_id(self) -> bytes:
        """RFC 6962 log ID: SHA-256 of the CT key's DER SubjectPublicKeyInfo."""
        return hashlib.sha256(spki_der(self.ct_key.public_key())).digest()

    def issue(self, email: str, *, issuer: str = OIDC_ISSUER,
              key: ec.EllipticCurvePrivateKey | None = None,
              not_before: datetime.datetime | None = None,
              lifetime: datetime.timedelta = datetime.timedelta(minutes=10),
              sct: bool = True) -> Leaf:
        """A leaf for `email` with a fresh P-256 key (or `key`), valid for `lifetime`
        from `not_before` (default: a minute ago, to absorb clock steps)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        return Leaf(self.certify(key.public_key(), email, issuer=issuer, not_before=not_before,
                                 lifetime=lifetime, sct=sct), key)

    def certify(self, public_key: ec.EllipticCurvePublicKey, email: str, *,
                issuer: str = OIDC_ISSUER, not_before: datetime.datetime | None = None,
                lifetime: datetime.timedelta = datetime.timedelta(minutes=10),
                sct: bool = True) -> x509.Certificate:
        """The leaf certificate of `issue` for a key whose private half someone else
        holds (what a Fulcio does with a CSR's key)."""
        key = public_key
        start = not_before or (datetime.datetime.now(_UTC).replace(microsecond=0)
                               - datetime.timedelta(minutes=1))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([])).issuer_name(self.intermediate.subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + lifetime)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.intermediate_key.public_key()), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]),
                           critical=True)
            .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V1, issuer.encode()),
                           critical=False)
            .add_extension(x509.UnrecognizedExtension(
                OID_ISSUER_V2, _der(0x0C, issuer.encode())), critical=False))
        if not sct:
            return builder.sign(self.intermediate_key, hashes.SHA256())
        precert = builder.sign(self.intermediate_key, hashes.SHA256())
        sct_list = self._sct_list(precert.tbs_certificate_bytes)
        final = builder.add_extension(
            x509.UnrecognizedExtension(OID_SCT_LIST, _der(0x04, sct_list)), critical=False)
        return final.sign(self.intermediate_key, hashes.SHA256())

    def _sct_list(self, precert_tbs: bytes) -> bytes:
        """A SignedCertificateTimestampList holding one v1 precert SCT over `precert_tbs`."""
        timestamp = int(datetime.datetime.now(_UTC).timestamp() * 1000)
        issuer_key_hash = hashlib.sha256(spki_der(self.intermediate.public_key())).digest()
        signed = (struct.pack(">BBQH", 0, 0, timestamp, 1) + issuer_key_hash
                  + len(precert_tbs).to_bytes(3, "big") + precert_tbs
                  + struct.pack(">H", 0))
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (struct.pack(">B", 0) + self.ct_log_id + struct.pack(">QH", timestamp, 0)
               + struct.pack(">BBH", 4, 3, len(signature)) + signature)
        item = struct.pack(">H", len(sct)) + sct
        return struct.pack(">H", len(item)) + item

    def write(self, folder: Path) -> dict[str, Path]:
        """The CA chain and CT public key as PEM files in `folder` (for cosign's flags)."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"chain": folder / "ca-chain.pem", "root": folder / "ca-root.pem",
                 "ct_public_key": folder / "ctlog.pub"}
        paths["chain"].write_bytes(self.chain_pem)
        paths["root"].write_bytes(pem(self.root))
        paths["ct_public_key"].write_bytes(self.ct_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return paths
