"""Requests the TSA refuses, in both forms, and the JSON form it accepts."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import rfc3161_client
from asn1crypto import core, tsp  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.tsa import DEFAULT_POLICY_OID, TimestampAuthority, TimestampRequestError
from rekor_py.tsa.certs import create_chain
from rekor_py.tsa.request import parse_der_request, parse_json_request

_DIGEST = hashlib.sha256(b"artifact").digest()


@pytest.fixture(scope="module")
def tsa() -> TimestampAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    return TimestampAuthority(key, create_chain(key))


def _der(**fields: Any) -> bytes:
    imprint = fields.pop("message_imprint", {"hash_algorithm": {"algorithm": "sha256"},
                                             "hashed_message": _DIGEST})
    return bytes(tsp.TimeStampReq({"version": 1, "message_imprint": imprint, **fields}).dump())


def test_der_request_fields() -> None:
    parsed = parse_der_request(_der(nonce=7, cert_req=True, req_policy=DEFAULT_POLICY_OID))
    assert (parsed.hash_algorithm, parsed.hashed_message) == ("sha256", _DIGEST)
    assert (parsed.nonce, parsed.cert_req, parsed.policy) == (7, True, DEFAULT_POLICY_OID)


def test_requests_of_rfc3161_client_parse() -> None:
    for algorithm, name in ((rfc3161_client.HashAlgorithm.SHA256, "sha256"),
                            (rfc3161_client.HashAlgorithm.SHA512, "sha512")):
        request = (rfc3161_client.TimestampRequestBuilder().data(b"x")
                   .hash_algorithm(algorithm).cert_request(cert_request=True).build())
        parsed = parse_der_request(request.as_bytes())
        assert parsed.hash_algorithm == name and parsed.nonce == request.nonce


def _sha1_imprint() -> dict[str, Any]:
    return {"hash_algorithm": {"algorithm": "sha1"}, "hashed_message": b"\0" * 20}


def _tlv(tag: int, content: bytes) -> bytes:
    assert len(content) < 0x80
    return bytes([tag, len(content)]) + content


def _with_params() -> bytes:
    """sha256 whose AlgorithmIdentifier carries INTEGER 0 instead of NULL or nothing."""
    algorithm = _tlv(0x30, core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump()
                     + _tlv(0x02, b"\0"))
    imprint = _tlv(0x30, algorithm + _tlv(0x04, _DIGEST))
    return _tlv(0x30, _tlv(0x02, b"\1") + imprint)


def _long_form_length(der: bytes) -> bytes:
    assert der[1] < 0x80
    return der[:1] + bytes([0x81, der[1]]) + der[2:]


def _explicit_cert_req_false(der: bytes) -> bytes:
    return _tlv(0x30, der[2:] + bytes.fromhex("010100"))


@pytest.mark.parametrize(("der", "message"), [
    (b"", "not a DER TimeStampReq"),
    (b"\x30\x03\x02\x01", "not a DER TimeStampReq"),
    (b"GET / HTTP/1.1\r\n", "not a DER TimeStampReq"),
    (_der() + b"\x00", "not a DER TimeStampReq"),
    (_long_form_length(_der()), "not DER-encoded"),
    (_explicit_cert_req_false(_der()), "not DER-encoded"),
    (_der(version=2), "version"),
    (_der(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"x"}]), "unaccepted extension"),
    (_der(message_imprint=_sha1_imprint()), "Weak hash algorithm"),
    (_der(message_imprint={"hash_algorithm": {"algorithm": "1.2.3.4"},
                           "hashed_message": _DIGEST}), "unsupported hash algorithm"),
    (_der(message_imprint={"hash_algorithm": {"algorithm": "sha384"},
                           "hashed_message": _DIGEST}), "incorrect length"),
    (_with_params(), "malformed timestamp request"),
    (_der(req_policy="1.2.3.4"), "unaccepted policy"),
])
def test_der_request_refused(tsa: TimestampAuthority, der: bytes, message: str) -> None:
    with pytest.raises(TimestampRequestError, match=message) as caught:
        tsa.respond(der)
    assert caught.value.status == 400


def test_json_request_of_sigstore_js() -> None:
    body = json.dumps({"artifactHash": base64.b64encode(_DIGEST).decode(),
                       "hashAlgorithm": "sha256", "certificates": True,
                       "nonce": 2**60 + 3, "somethingNew": [1]}).encode()
    parsed = parse_json_request(body)
    assert (parsed.hash_algorithm, parsed.hashed_message) == ("sha256", _DIGEST)
    assert (parsed.nonce, parsed.cert_req, parsed.policy) == (2**60 + 3, True, None)
    digest512 = hashlib.sha512(b"x").digest()
    parsed = parse_json_request(json.dumps({
        "artifactHash": base64.b64encode(digest512).decode(), "hashAlgorithm": "SHA512",
        "tsaPolicyOID": DEFAULT_POLICY_OID}).encode())
    assert (parsed.hash_algorithm, parsed.nonce, parsed.cert_req) == ("sha512", None, False)
    assert parsed.policy == DEFAULT_POLICY_OID
    # A 160-bit nonce, far under the size bound: taken, as sigstore's TSA takes it.
    assert parse_json_request(_json(nonce=2**160 - 1)).nonce == 2**160 - 1


def _json(**changes: Any) -> bytes:
    obj: dict[str, Any] = {"artifactHash": base64.b64encode(_DIGEST).decode(),
                           "hashAlgorithm": "sha256", "nonce": 1}
    obj.update(changes)
    return json.dumps(obj).encode()


@pytest.mark.parametrize(("body", "message"), [
    (b"", "malformed JSON"),
    (b"{", "malformed JSON"),
    (b"\xff\xfe", "malformed JSON"),
    (b"[1]", "not a JSON object"),
    (_json(hashAlgorithm="sha1", artifactHash=base64.b64encode(b"\0" * 20).decode()),
     "Weak hash algorithm"),
    (_json(hashAlgorithm="sha3-256"), "unsupported hash algorithm"),
    (_json(hashAlgorithm=256), "wrong type"),
    (_json(artifactHash="not base64!"), "base64"),
    (_json(artifactHash=base64.b64encode(_DIGEST[:31]).decode()), "incorrect length"),
    (_json(nonce="12"), "wrong type"),
    (_json(nonce=True), "wrong type"),
    (_json(nonce=1.5), "wrong type"),
    (_json(certificates="yes"), "wrong type"),
    (_json(tsaPolicyOID="1.2.x"), "malformed tsaPolicyOID"),
    (_json(tsaPolicyOID=".".join(["1"] * 129)), "at most 128"),
    (_json(tsaPolicyOID="1.2.3.4"), "unaccepted policy"),
    (b'{"nonce": ' + b"9" * 5000 + b"}", "too large"),
])
def test_json_request_refused(tsa: TimestampAuthority, body: bytes, message: str) -> None:
    with pytest.raises(TimestampRequestError, match=message) as caught:
        tsa.respond_json(body)
    assert caught.value.status == 400
