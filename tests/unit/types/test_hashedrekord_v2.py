"""hashedrekord 0.0.2 requests (Rekor v2): every algorithm rekor-tiles takes, with real
keys and signatures, both protobuf JSON spellings, and the refusals, each a 400.

The canonical body is checked against the one sigstore-python 4.5.1 rebuilds from a
bundle when it verifies a v2 entry (its own code), so the leaf we store is the leaf a
client expects."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.x509.oid import NameOID

from rekor_py import limits, merkle
from rekor_py.errors import InvalidRequest
from rekor_py.pki.ed25519ph import _sign_ed25519ph
from rekor_py.types.hashedrekord_v2 import prepare_v2_request

ARTIFACT = b"an artifact for Rekor v2"


@pytest.fixture(autouse=True)
def _limits() -> None:
    limits.configure(limits.Limits())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def spki(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def certificate(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "v2 unit test")])
    now = dt.datetime.now(dt.UTC)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(minutes=5))
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("V2@Example.com")]),
                           critical=False)
            .sign(key, algorithm))
    return cert.public_bytes(serialization.Encoding.DER)


# keyDetails -> (make a key, hash, sign a digest)
def _ecdsa(curve: ec.EllipticCurve, h: hashes.HashAlgorithm) -> Callable[[Any, bytes], bytes]:
    return lambda key, digest: key.sign(digest, ec.ECDSA(utils.Prehashed(h)))


def _seed(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def _rsa_sign(key: Any, digest: bytes) -> bytes:
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


CASES: dict[str, tuple[Callable[[], Any], Any, Callable[[Any, bytes], bytes]]] = {
    "PKIX_ECDSA_P256_SHA_256": (lambda: ec.generate_private_key(ec.SECP256R1()),
                                hashlib.sha256, _ecdsa(ec.SECP256R1(), hashes.SHA256())),
    "PKIX_ECDSA_P384_SHA_384": (lambda: ec.generate_private_key(ec.SECP384R1()),
                                hashlib.sha384, _ecdsa(ec.SECP384R1(), hashes.SHA384())),
    "PKIX_ECDSA_P521_SHA_512": (lambda: ec.generate_private_key(ec.SECP521R1()),
                                hashlib.sha512, _ecdsa(ec.SECP521R1(), hashes.SHA512())),
    "PKIX_RSA_PKCS1V15_2048_SHA256": (lambda: rsa.generate_private_key(65537, 2048),
                                      hashlib.sha256, _rsa_sign),
    "PKIX_RSA_PKCS1V15_3072_SHA256": (lambda: rsa.generate_private_key(65537, 3072),
                                      hashlib.sha256, _rsa_sign),
    "PKIX_RSA_PKCS1V15_4096_SHA256": (lambda: rsa.generate_private_key(65537, 4096),
                                      hashlib.sha256, _rsa_sign),
    "PKIX_ED25519_PH": (ed25519.Ed25519PrivateKey.generate, hashlib.sha512,
                        lambda key, digest: _sign_ed25519ph(_seed(key), digest)[1]),
}


def request(details: str, *, cert: bool = False) -> tuple[dict[str, Any], Any]:
    make_key, digest_of, sign = CASES[details]
    key = make_key()
    digest = digest_of(ARTIFACT).digest()
    verifier: dict[str, Any] = ({"x509Certificate": {"rawBytes": b64(certificate(key))}}
                                if cert else {"publicKey": {"rawBytes": b64(spki(key))}})
    verifier["keyDetails"] = details
    return {"hashedRekordRequestV002": {
        "digest": b64(digest),
        "signature": {"content": b64(sign(key, digest)), "verifier": verifier}}}, key


@pytest.mark.parametrize("details", sorted(CASES))
@pytest.mark.parametrize("cert", [False, True], ids=["key", "cert"])
def test_every_algorithm_verifies(details: str, cert: bool) -> None:
    proposed, _ = request(details, cert=cert)
    prepared = prepare_v2_request(proposed)
    assert (prepared.kind, prepared.api_version) == ("hashedrekord", "0.0.2")
    assert prepared.leaf_hash == merkle.leaf_hash(prepared.body)
    digest = base64.b64decode(proposed["hashedRekordRequestV002"]["digest"])
    algorithm = CASES[details][1]().name
    assert f"{algorithm}:{digest.hex()}" in prepared.index_keys
    if cert:
        assert "v2@example.com" in prepared.index_keys


def test_canonical_body_is_what_sigstore_python_rebuilds() -> None:
    """sigstore-python rebuilds the expected hashedrekord 0.0.2 body from a bundle's
    digest, signature and certificate; ours must be byte-identical."""
    from sigstore_models.common import v1 as common_v1
    from sigstore_models.rekor.v2 import entry as v2_entry
    from sigstore_models.rekor.v2 import hashedrekord, verifier

    proposed, _ = request("PKIX_ECDSA_P256_SHA_256", cert=True)
    spec = proposed["hashedRekordRequestV002"]
    expected = v2_entry.Entry(
        kind="hashedrekord", api_version="0.0.2",
        spec=v2_entry.Spec(hashed_rekord_v002=hashedrekord.HashedRekordLogEntryV002(
            data=common_v1.HashOutput(algorithm=common_v1.HashAlgorithm.SHA2_256,
                                      digest=spec["digest"]),
            signature=verifier.Signature(
                content=spec["signature"]["content"],
                verifier=verifier.Verifier(
                    x509_certificate=common_v1.X509Certificate(
                        raw_bytes=spec["signature"]["verifier"]["x509Certificate"]["rawBytes"]),
                    key_details=common_v1.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256)))))
    import rfc8785

    assert prepare_v2_request(proposed).body == rfc8785.dumps(expected.to_dict())


def test_snake_case_and_url_safe_base64_give_the_same_leaf() -> None:
    proposed, _ = request("PKIX_ECDSA_P256_SHA_256")
    spec = proposed["hashedRekordRequestV002"]
    verifier = spec["signature"]["verifier"]

    def unpadded_url(text: str) -> str:
        return text.replace("+", "-").replace("/", "_").rstrip("=")

    snake = {"hashed_rekord_request_v002": {
        "digest": unpadded_url(spec["digest"]),
        "signature": {"content": spec["signature"]["content"], "verifier": {
            "public_key": {"raw_bytes": verifier["publicKey"]["rawBytes"]},
            "key_details": verifier["keyDetails"]}}}}
    assert prepare_v2_request(snake).body == prepare_v2_request(proposed).body


def _edit(proposed: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(proposed)
    change(out["hashedRekordRequestV002"])
    return out


def _other_key_signature(spec: dict[str, Any]) -> None:
    digest = base64.b64decode(spec["digest"])
    other = ec.generate_private_key(ec.SECP256R1())
    spec["signature"]["content"] = b64(other.sign(digest, ec.ECDSA(utils.Prehashed(
        hashes.SHA256()))))


REFUSALS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "digest too short": (lambda s: s.update(digest=b64(b"\x01" * 20)), "digest length (20)"),
    "digest of sha512 for P-256": (lambda s: s.update(digest=b64(b"\x01" * 64)),
                                   "does not match expected size"),
    "no digest": (lambda s: s.pop("digest"), "missing digest"),
    "empty signature": (lambda s: s["signature"].update(content=""), "missing signature"),
    "no verifier": (lambda s: s["signature"].pop("verifier"), "missing verifier"),
    "no key in the verifier": (lambda s: s["signature"]["verifier"].pop("publicKey"),
                               "missing signature public key or X.509 certificate"),
    "empty key": (lambda s: s["signature"]["verifier"]["publicKey"].update(rawBytes=""),
                  "missing public key raw bytes"),
    "key and certificate": (lambda s: s["signature"]["verifier"].update(
        x509Certificate={"rawBytes": b64(b"x")}), "not both"),
    "bad DER key": (lambda s: s["signature"]["verifier"]["publicKey"].update(
        rawBytes=b64(b"\x30\x03\x02\x01\x01")), "parsing verifier"),
    "bad DER certificate": (lambda s: s["signature"]["verifier"].update(
        publicKey=None, x509Certificate={"rawBytes": b64(b"\x30\x00")}), "parsing verifier"),
    "unknown keyDetails": (lambda s: s["signature"]["verifier"].update(keyDetails="RSA_2"),
                           "unknown value"),
    "keyDetails as a number": (lambda s: s["signature"]["verifier"].update(keyDetails=5),
                               "expected the name"),
    "no keyDetails": (lambda s: s["signature"]["verifier"].pop("keyDetails"),
                      "missing keyDetails"),
    "pure Ed25519": (lambda s: s["signature"]["verifier"].update(keyDetails="PKIX_ED25519"),
                     "unsupported signing algorithm PKIX_ED25519"),
    "key of another curve": (lambda s: s["signature"]["verifier"].update(
        keyDetails="PKIX_ECDSA_P384_SHA_384"), "does not match the verifier's key"),
    "ECDSA key labelled RSA": (lambda s: s["signature"]["verifier"].update(
        keyDetails="PKIX_RSA_PKCS1V15_2048_SHA256"), "does not match the verifier's key"),
    "signature by another key": (_other_key_signature, "verifying signature"),
    "unknown field": (lambda s: s.update(extra=1), "unknown field 'extra'"),
    "both spellings": (lambda s: s["signature"]["verifier"]["publicKey"].update(
        raw_bytes=s["signature"]["verifier"]["publicKey"]["rawBytes"]), "duplicate field"),
    "digest not base64": (lambda s: s.update(digest="!!"), "digest: not base64"),
    "signature not an object": (lambda s: s.update(signature=[1]), "expected a JSON object"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_400_naming_the_fault(case: str) -> None:
    change, words = REFUSALS[case]
    proposed, _ = request("PKIX_ECDSA_P256_SHA_256")
    with pytest.raises(InvalidRequest) as refused:
        prepare_v2_request(_edit(proposed, change))
    assert refused.value.status == 400
    assert words in refused.value.client_message, refused.value.client_message


@pytest.mark.parametrize("proposed", [
    {"dsseRequestV002": {"envelope": {}, "verifiers": []}}, {}, None,
])
def test_not_a_hashedrekord_request(proposed: Any) -> None:
    with pytest.raises(InvalidRequest, match="invalid type, must be hashedrekord"):
        prepare_v2_request(proposed)


def test_rsa_1024_is_refused() -> None:
    key = rsa.generate_private_key(65537, 1024)
    digest = hashlib.sha256(ARTIFACT).digest()
    proposed = {"hashedRekordRequestV002": {"digest": b64(digest), "signature": {
        "content": b64(_rsa_sign(key, digest)),
        "verifier": {"publicKey": {"rawBytes": b64(spki(key))},
                     "keyDetails": "PKIX_RSA_PKCS1V15_2048_SHA256"}}}}
    with pytest.raises(InvalidRequest) as refused:
        prepare_v2_request(proposed)
    assert refused.value.status == 400
