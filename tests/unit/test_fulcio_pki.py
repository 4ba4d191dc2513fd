"""The test PKI (tests/tools/fulcio.py) and trusted root (tests/interop/trust.py) are
checked here with sigstore-python's own parsers and verifiers, so that a client refusing
our log's bundles is never the test material's fault."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ExtendedKeyUsage
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import VerificationError
from sigstore.models import TrustedRoot

from tests.interop.trust import write_trusted_root
from tests.tools.fulcio import OIDC_ISSUER, FulcioPKI


@pytest.fixture(scope="module")
def pki() -> FulcioPKI:
    return FulcioPKI.create()


def _root(tmp_path: Path, pki: FulcioPKI) -> TrustedRoot:
    log_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = write_trusted_root(tmp_path / "trusted_root.json", "http://127.0.0.1:3000",
                              log_key, pki)
    return TrustedRoot.from_file(str(path))


def test_leaf_has_fulcio_shape(pki: FulcioPKI) -> None:
    leaf = pki.issue("signer@example.test")
    cert = leaf.cert
    assert cert.subject == x509.Name([])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.RFC822Name) == ["signer@example.test"]
    issuer_v1 = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(
        "1.3.6.1.4.1.57264.1.1"))
    assert issuer_v1.value.value == OIDC_ISSUER.encode()
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert len(scts.value) == 1
    assert scts.value[0].log_id == pki.ct_log_id


def test_chain_and_sct_verify_with_sigstore_python(pki: FulcioPKI, tmp_path: Path) -> None:
    root = _root(tmp_path, pki)
    leaf = pki.issue("signer@example.test")
    # The chain, as sigstore-python's Verifier builds it: every CA certificate of the
    # root is an anchor; webpki profiles, with any EKU allowed.
    eku = (ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    verifier = (PolicyBuilder().store(Store(root.get_fulcio_certs()))
                .time(datetime.datetime.now(datetime.UTC))
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca().may_be_present(*eku),
                                    ee_policy=ExtensionPolicy.webpki_defaults_ee().may_be_present(*eku))
                .build_client_verifier())
    chain = verifier.verify(leaf.cert, []).chain
    assert chain[1] == pki.intermediate  # the issuer: an anchor itself, so the path ends there
    verify_sct(leaf.cert, chain[1:], root.ct_keyring(KeyringPurpose.VERIFY))


def test_sct_from_another_ct_log_fails(pki: FulcioPKI, tmp_path: Path) -> None:
    other = FulcioPKI.create()
    root = _root(tmp_path, pki)
    leaf = other.issue("signer@example.test")
    with pytest.raises(VerificationError):
        verify_sct(leaf.cert, other.chain, root.ct_keyring(KeyringPurpose.VERIFY))


def test_sct_over_other_tbs_fails(pki: FulcioPKI, tmp_path: Path) -> None:
    """The SCT binds the certificate's contents: graft one leaf's SCT onto another."""
    root = _root(tmp_path, pki)
    a, b = pki.issue("a@example.test"), pki.issue("b@example.test")
    sct_a = a.cert.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps)
    b_without = pki.issue("b@example.test", key=b.key, sct=False)
    builder = x509.CertificateBuilder(
        issuer_name=b_without.cert.issuer, subject_name=b_without.cert.subject,
        public_key=b.key.public_key(), serial_number=b_without.cert.serial_number,
        not_valid_before=b_without.cert.not_valid_before_utc,
        not_valid_after=b_without.cert.not_valid_after_utc,
        extensions=[*b_without.cert.extensions, sct_a])
    grafted = builder.sign(pki.intermediate_key, hashes.SHA256())
    with pytest.raises(VerificationError):
        verify_sct(grafted, pki.chain, root.ct_keyring(KeyringPurpose.VERIFY))


def test_trusted_root_names_the_log(tmp_path: Path, pki: FulcioPKI) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    path = write_trusted_root(tmp_path / "tr.json", "http://127.0.0.1:3000", pem, pki)
    doc = json.loads(path.read_text())
    assert doc["tlogs"][0]["baseUrl"] == "http://127.0.0.1:3000"
    assert doc["tlogs"][0]["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"
    keyring = TrustedRoot.from_file(str(path)).rekor_keyring(KeyringPurpose.VERIFY)
    assert len(keyring._keyring) == 1
