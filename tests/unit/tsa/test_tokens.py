"""Tokens verified by the verifiers Sigstore clients use: rfc3161-client (sigstore-python),
sigstore-python's own TSA check over a TrustedRoot, and `openssl ts -verify`."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import rfc3161_client
from asn1crypto import cms, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, VerifierBuilder
from sigstore.models import TrustedRoot
from sigstore.verify.verifier import Verifier

from rekor_py.tsa import DEFAULT_POLICY_OID, TimestampAuthority
from rekor_py.tsa.certs import create_chain
from tests.interop.trust import trusted_root
from tests.tools.fulcio import FulcioPKI

_MESSAGE = b"a signature to time-stamp"
_HASHES = {"sha256": HashAlgorithm.SHA256, "sha512": HashAlgorithm.SHA512}


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> TimestampAuthority:
    return TimestampAuthority.load_or_create(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def other_tsa() -> TimestampAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    return TimestampAuthority(key, create_chain(key))


def _verifier(tsa: TimestampAuthority, request: rfc3161_client.TimeStampRequest
              ) -> rfc3161_client.Verifier:
    # As sigstore-python builds it: the TSA certificate and the root from the trust root.
    leaf, root = tsa.chain
    return (VerifierBuilder.from_request(request).tsa_certificate(leaf)
            .add_root_certificate(root).build())


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("cert_req", [True, False])
def test_rfc3161_client_verifies(tsa: TimestampAuthority, algorithm: str,
                                 cert_req: bool) -> None:
    request = (TimestampRequestBuilder().data(_MESSAGE).hash_algorithm(_HASHES[algorithm])
               .cert_request(cert_request=cert_req).nonce(nonce=True).build())
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    response = rfc3161_client.decode_timestamp_response(tsa.respond(request.as_bytes()))
    after = datetime.datetime.now(datetime.UTC)
    assert _verifier(tsa, request).verify_message(response, _MESSAGE)

    info = response.tst_info
    assert info.version == 1 and info.nonce == request.nonce
    assert info.policy == x509.ObjectIdentifier(DEFAULT_POLICY_OID)
    assert info.message_imprint.message == hashlib.new(algorithm, _MESSAGE).digest()
    assert before <= info.gen_time <= after
    assert 0 < info.serial_number < 2**128
    assert len(response.signed_data.certificates) == (1 if cert_req else 0)


def test_token_for_another_message_fails(tsa: TimestampAuthority) -> None:
    request = TimestampRequestBuilder().data(_MESSAGE).nonce(nonce=True).build()
    response = rfc3161_client.decode_timestamp_response(tsa.respond(request.as_bytes()))
    with pytest.raises(rfc3161_client.VerificationError, match="Mismatch between messages"):
        _verifier(tsa, request).verify_message(response, _MESSAGE + b"!")


def test_token_under_another_root_fails(tsa: TimestampAuthority,
                                        other_tsa: TimestampAuthority) -> None:
    request = TimestampRequestBuilder().data(_MESSAGE).build()
    response = rfc3161_client.decode_timestamp_response(other_tsa.respond(request.as_bytes()))
    verifier = (VerifierBuilder().add_root_certificate(tsa.chain[1]).build())
    with pytest.raises(rfc3161_client.VerificationError):
        verifier.verify_message(response, _MESSAGE)


def test_p384_authority_verifies() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    tsa = TimestampAuthority(key, create_chain(key))
    request = TimestampRequestBuilder().data(_MESSAGE).nonce(nonce=True).build()
    response = rfc3161_client.decode_timestamp_response(tsa.respond(request.as_bytes()))
    assert _verifier(tsa, request).verify_message(response, _MESSAGE)
    signer = response.signed_data.signer_infos.pop()
    assert signer.serial_number == tsa.certificate.serial_number


def test_serial_numbers_differ(tsa: TimestampAuthority) -> None:
    request = TimestampRequestBuilder().data(_MESSAGE).build().as_bytes()
    serials = {rfc3161_client.decode_timestamp_response(tsa.respond(request))
               .tst_info.serial_number for _ in range(20)}
    assert len(serials) == 20


def test_signed_attributes(tsa: TimestampAuthority) -> None:
    """signing-certificate-v2 names our certificate; the signer is issuerAndSerialNumber."""
    request = TimestampRequestBuilder().data(_MESSAGE).build().as_bytes()
    token = tsp.TimeStampResp.load(tsa.respond(request))["time_stamp_token"]
    signed_data = token["content"]
    assert signed_data["version"].native == "v3"
    signer = signed_data["signer_infos"][0]
    assert signer["sid"].name == "issuer_and_serial_number"
    assert signer["sid"].chosen["serial_number"].native == tsa.certificate.serial_number
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    tst_der = signed_data["encap_content_info"]["content"].contents
    assert attrs["message_digest"].native == hashlib.sha256(tst_der).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    leaf_der = tsa.certificate.public_bytes(serialization.Encoding.DER)
    assert ess["cert_hash"].native == hashlib.sha256(leaf_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == tsa.certificate.serial_number
    assert isinstance(signed_data, cms.SignedData)


# ---- openssl ts -verify ---------------------------------------------------------------


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=False)


def _write_chain(tsa: TimestampAuthority, folder: Path) -> tuple[Path, Path]:
    leaf_pem, root_pem = (c.public_bytes(serialization.Encoding.PEM) for c in tsa.chain)
    (folder / "leaf.pem").write_bytes(leaf_pem)
    (folder / "root.pem").write_bytes(root_pem)
    return folder / "leaf.pem", folder / "root.pem"


@pytest.mark.parametrize("cert", [True, False])
def test_openssl_verifies(tsa: TimestampAuthority, other_tsa: TimestampAuthority,
                          tmp_path: Path, cert: bool) -> None:
    data = tmp_path / "data"
    data.write_bytes(_MESSAGE)
    query = tmp_path / "req.tsq"
    made = _openssl("ts", "-query", "-data", data, "-sha384", *(["-cert"] if cert else []),
                    "-out", query)
    assert made.returncode == 0, made.stderr
    reply = tmp_path / "resp.der"
    reply.write_bytes(tsa.respond(query.read_bytes()))
    leaf, root = _write_chain(tsa, tmp_path)

    ok = _openssl("ts", "-verify", "-in", reply, "-queryfile", query, "-CAfile", root,
                  "-untrusted", leaf)
    assert ok.returncode == 0 and b"Verification: OK" in ok.stdout, ok.stderr
    ok = _openssl("ts", "-verify", "-in", reply, "-data", data, "-CAfile", root,
                  "-untrusted", leaf)
    assert ok.returncode == 0, ok.stderr

    data.write_bytes(_MESSAGE + b"!")
    bad = _openssl("ts", "-verify", "-in", reply, "-data", data, "-CAfile", root,
                   "-untrusted", leaf)
    assert bad.returncode != 0 and b"Verification: FAILED" in bad.stdout

    other = tmp_path / "other"
    other.mkdir()
    other_leaf, other_root = _write_chain(other_tsa, other)
    bad = _openssl("ts", "-verify", "-in", reply, "-queryfile", query, "-CAfile", other_root,
                   "-untrusted", other_leaf)
    assert bad.returncode != 0 and b"Verification: FAILED" in bad.stdout


# ---- sigstore-python ------------------------------------------------------------------


def _sigstore_verifier(tsa: TimestampAuthority, folder: Path) -> Verifier:
    log_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # sigstore's Verifier wants a log and a Fulcio CA in its trust root; the TSA entry
    # is what this test is about.
    root = trusted_root("http://127.0.0.1:1", log_key, FulcioPKI.create())
    start = tsa.chain[1].not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    root["timestampAuthorities"] = [{
        "subject": {"organization": "rekor-py", "commonName": "rekor-py TSA root"},
        "uri": "http://127.0.0.1:1",
        "certChain": {"certificates": [
            {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
            for c in tsa.chain]},
        "validFor": {"start": start},
    }]
    path = folder / "trusted_root.json"
    path.write_text(json.dumps(root))
    return Verifier(trusted_root=TrustedRoot.from_file(str(path)))


def test_sigstore_python_verifies(tsa: TimestampAuthority, other_tsa: TimestampAuthority,
                                  tmp_path: Path) -> None:
    verifier = _sigstore_verifier(tsa, tmp_path)
    request = TimestampRequestBuilder().data(_MESSAGE).build()
    response = rfc3161_client.decode_timestamp_response(tsa.respond(request.as_bytes()))
    # The check sigstore-python runs on each RFC 3161 timestamp of a bundle.
    result = verifier._verify_signed_timestamp(response, _MESSAGE)
    assert result is not None and result.time == response.tst_info.gen_time

    assert verifier._verify_signed_timestamp(response, _MESSAGE + b"!") is None
    foreign = rfc3161_client.decode_timestamp_response(other_tsa.respond(request.as_bytes()))
    assert verifier._verify_signed_timestamp(foreign, _MESSAGE) is None


def test_gen_time_comes_from_the_clock_to_the_second() -> None:
    moment = datetime.datetime(2031, 5, 6, 7, 8, 9, 987654, tzinfo=datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    tsa = TimestampAuthority(key, create_chain(key, moment), clock=lambda: moment)
    request = TimestampRequestBuilder().data(_MESSAGE).build()
    response = rfc3161_client.decode_timestamp_response(tsa.respond(request.as_bytes()))
    assert response.tst_info.gen_time == moment.replace(microsecond=0)
    assert response.tst_info.accuracy.seconds == 1
    # Verified at genTime, as sigstore-python does: the chain is valid then.
    assert _verifier(tsa, request).verify_message(response, _MESSAGE)
