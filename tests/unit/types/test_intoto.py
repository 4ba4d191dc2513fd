"""intoto 0.0.1 and 0.0.2: Rekor's vectors, fresh keys, keyids, stored forms, rejections, junk."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types import parse_entry
from rekor_py.types.base import leaf_hash
from rekor_py.types.dsse_envelope import ssh_key_id
from rekor_py.types.intoto.v0_0_1 import IntotoV001
from rekor_py.types.intoto.v0_0_2 import IntotoV002
from tests.tools.entries import with_changes
from tests.unit.types.dsse_helpers import (
    CERT,
    CERT_KEY,
    ED25519,
    OTHER,
    P256,
    P384,
    RSA2048,
    STATEMENT,
    STATEMENT_BYTES,
    STATEMENT_KEYS,
    VECTORS,
    b64,
    envelope_dict,
    envelope_text,
    error_of,
    intoto1_entry,
    intoto2_entry,
    key_hash_key,
    only_invalid_entry,
    pem_of,
    sha256_hex,
    submit,
)

V1 = VECTORS / "intoto" / "0.0.1"
V2 = VECTORS / "intoto" / "0.0.2"
REKOR_ENVELOPE = (V1 / "intoto_dsse.json").read_text()
REKOR_PEM = (V1 / "intoto_dsse.pem").read_bytes()
REKOR_PEM_CANONICAL = REKOR_PEM + b"\n"  # Go's PEM encoder ends with a newline
REKOR_PAYLOAD_HASH = "7ebff188cca1e3300b2e21f4a40b5b5b8c7e8f786bb95ea0c957a2e516636d5d"
REKOR_ENVELOPE_HASH = "7fa2e20d48a4c5582c7de504622dc2ea2bdc58f28cd871753c3a345c737eba5e"
_E = "error processing entry: "
_V = _E + "validation failure list:\n"
_NO_MATCH = "accepted signatures do not match threshold, Found: 0, Expected 1"


def v1(entry: Any) -> IntotoV001:
    parsed = submit(entry, "intoto")
    assert isinstance(parsed, IntotoV001)
    return parsed


def v2(entry: Any) -> IntotoV002:
    parsed = submit(entry, "intoto")
    assert isinstance(parsed, IntotoV002)
    return parsed


# ---- intoto 0.0.1 -------------------------------------------------------------------------


def test_v1_rekor_vector() -> None:
    entry = v1(intoto1_entry(REKOR_ENVELOPE, REKOR_PEM))
    assert sha256_hex(REKOR_ENVELOPE) == REKOR_ENVELOPE_HASH
    body = entry.canonicalize()
    assert body == (
        '{"apiVersion":"0.0.1","kind":"intoto","spec":{"content":{"hash":{"algorithm":"sha256","value":"'
        + REKOR_ENVELOPE_HASH
        + '"},"payloadHash":{"algorithm":"sha256","value":"'
        + REKOR_PAYLOAD_HASH
        + '"}},"publicKey":"'
        + b64(REKOR_PEM_CANONICAL)
        + '"}}'
    ).encode()
    assert leaf_hash(body).hex() == "458ec429d0767bc65afe972eddaed2899c19d5babc75d03b4223cc881d9fa0d6"
    assert entry.index_keys() == [
        "sha256:" + REKOR_ENVELOPE_HASH,
        "sha256:" + sha256_hex(REKOR_PEM_CANONICAL),
        "sha256:" + REKOR_PAYLOAD_HASH,
        "foo:bar",
    ]
    payload = base64.b64decode(json.loads(REKOR_ENVELOPE)["payload"])
    assert entry.attestation() == payload and sha256_hex(payload) == REKOR_PAYLOAD_HASH
    assert entry.artifact_hash() == "sha256:" + REKOR_PAYLOAD_HASH
    # The stored form parses for search to the same leaf, and is not insertable.
    assert parse_entry(json.loads(body)).canonicalize() == body
    assert error_of(json.loads(body), "intoto") == _E + "entry not insertable into log: missing envelope content"


def test_v1_models_testdata_is_0_0_1_shaped() -> None:
    vector = json.loads((V1 / "models-testdata-intoto.json").read_text())
    # As labelled (0.0.2) the string envelope is not an object: Rekor refuses it.
    assert error_of(vector, "intoto") == _V + "content.envelope.payloadType in body is required"
    vector["apiVersion"] = "0.0.1"
    entry = v1(vector)
    # Its client hash is ignored and recomputed; here both agree.
    assert (json.loads(entry.canonicalize())["spec"]["content"]["hash"]["value"]
            == vector["spec"]["content"]["hash"]["value"])
    assert entry.canonicalize() == v1(intoto1_entry(REKOR_ENVELOPE, REKOR_PEM)).canonicalize()


@pytest.mark.parametrize("key", [P256, P384, RSA2048, ED25519], ids=["p256", "p384", "rsa2048", "ed25519"])
def test_v1_key_types(key: Any) -> None:
    envelope = envelope_text(STATEMENT_BYTES, [key])
    entry = v1(intoto1_entry(envelope, pem_of(key)))
    assert entry.index_keys() == [
        "sha256:" + sha256_hex(envelope),
        key_hash_key(key),
        "sha256:" + sha256_hex(STATEMENT_BYTES),
        *STATEMENT_KEYS,
    ]


def test_v1_certificate_subject_and_p384_sha384() -> None:
    entry = v1(intoto1_entry(envelope_text(STATEMENT_BYTES, [CERT_KEY]), pem_of(CERT)))
    assert entry.index_keys()[1:3] == [key_hash_key(CERT), "alice@example.com"]
    envelope = envelope_text(STATEMENT_BYTES, [P384], digest=hashes.SHA384())
    assert error_of(intoto1_entry(envelope, pem_of(P384)), "intoto") == _E + _NO_MATCH


def test_v1_keyid_rule() -> None:
    fingerprint = ssh_key_id(X509PublicKey.from_bytes(pem_of(P256)))
    assert fingerprint.startswith("SHA256:") and "=" not in fingerprint and len(fingerprint) == 50
    ok = envelope_text(STATEMENT_BYTES, [P256], keyids=[fingerprint])
    assert v1(intoto1_entry(ok, pem_of(P256))).payload == STATEMENT_BYTES
    other = envelope_text(STATEMENT_BYTES, [P256], keyids=["SHA256:somebody-else"])
    assert error_of(intoto1_entry(other, pem_of(P256)), "intoto") == _E + _NO_MATCH
    # A later signature with a usable keyid still counts.
    env = envelope_dict(STATEMENT_BYTES, [P256, P256], keyids=["nope", ""])
    assert v1(intoto1_entry(json.dumps(env), pem_of(P256))).payload == STATEMENT_BYTES


def test_v1_url_safe_payload_verifies_then_fails_strict_decode() -> None:
    payload = b"\xfb\xff\xfe" * 4
    env = envelope_dict(payload, [P256], payload_type="t")
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    assert error_of(intoto1_entry(json.dumps(env), pem_of(P256)), "intoto") == _E + "illegal base64 data"


def test_v1_empty_payload_type_is_not_insertable() -> None:
    env = envelope_text(b"data", [P256], payload_type="")
    entry = intoto1_entry(env, pem_of(P256))
    assert isinstance(parse_entry(entry), IntotoV001)
    assert error_of(entry, "intoto") == _E + "entry not insertable into log: invalid DSSE envelope"


_V1_GOOD = intoto1_entry(envelope_text(STATEMENT_BYTES, [P256]), pem_of(P256))


def _v1_with(**changes: Any) -> dict[str, Any]:
    return with_changes(_V1_GOOD, {f"spec__{path}": value for path, value in changes.items()}, sep="__")


_TAMPERED_V1 = json.loads(_V1_GOOD["spec"]["content"]["envelope"])
_TAMPERED_V1["payload"] = b64(STATEMENT_BYTES + b"!")

V1_REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong-key", _v1_with(publicKey=b64(pem_of(OTHER))), _E + _NO_MATCH),
    ("tampered-payload", _v1_with(content__envelope=json.dumps(_TAMPERED_V1)), _E + _NO_MATCH),
    ("garbage-signature",
     _v1_with(content__envelope=json.dumps({**_TAMPERED_V1, "signatures": [{"sig": "*"}]})),
     _E + "unable to base64 decode payload (is payload in the right format?)"),
    ("no-signatures", _v1_with(content__envelope=json.dumps({**_TAMPERED_V1, "signatures": []})),
     _E + "no signature found"),
    ("envelope-not-json", _v1_with(content__envelope="{"), _E + "unexpected end of JSON input"),
    ("envelope-keyid-number", _v1_with(content__envelope='{"signatures":[{"keyid":1}]}'),
     _E + "json: cannot unmarshal number into Go struct field "
          "Signature.signatures.keyid of type string"),
    ("public-key-bad-base64", _v1_with(publicKey="QQ="),
     _E + "failed parsing base64 data for public key: illegal base64 data"),
    ("public-key-der", _v1_with(publicKey=b64(b"\x30\x00")), _E + "invalid public key: failure decoding PEM"),
    ("public-key-missing", _v1_with(publicKey=...), _V + "publicKey in body is required"),
    ("public-key-number", _v1_with(publicKey=5), _V + "publicKey in body is required"),
    ("content-missing", _v1_with(content=...), _V + "content in body is required"),
    ("everything-missing", {"kind": "intoto", "apiVersion": "0.0.1", "spec": {}},
     _V + "content in body is required\npublicKey in body is required"),
    ("content-is-string", _v1_with(content="x"), _V + "content in body is required"),
    ("client-hash-bad-algorithm", _v1_with(content__hash={"algorithm": "sha512", "value": "00"}),
     _V + "content.hash.algorithm in body should be one of [sha256]"),
    ("client-payload-hash-no-value", _v1_with(content__payloadHash={"algorithm": "sha256"}),
     _V + "content.payloadHash.value in body is required"),
    ("no-envelope-no-hash", _v1_with(content__envelope=...), _E + "missing hash value for envelope"),
    ("envelope-not-string", _v1_with(content__envelope={"payload": "x"}), _E + "missing hash value for envelope"),
    ("stored-form-posted", _v1_with(content={"hash": {"algorithm": "sha256", "value": "00"}}),
     _E + "entry not insertable into log: missing envelope content"),
]


@pytest.mark.parametrize(("name", "entry", "message"), V1_REJECTIONS, ids=[r[0] for r in V1_REJECTIONS])
def test_v1_rejections(name: str, entry: dict[str, Any], message: str) -> None:
    assert error_of(entry, "intoto") == message


# ---- intoto 0.0.2 -------------------------------------------------------------------------


def test_v2_rekor_vector_single_key() -> None:
    env = json.loads(REKOR_ENVELOPE)
    entry = v2(intoto2_entry(env, [REKOR_PEM], envelope_hash=REKOR_ENVELOPE_HASH))
    sig = env["signatures"][0]["sig"]
    body = entry.canonicalize()
    assert body == (
        '{"apiVersion":"0.0.2","kind":"intoto","spec":{"content":{"envelope":{"payloadType":"application/vnd.in-toto+json",'
        '"signatures":[{"publicKey":"' + b64(REKOR_PEM) + '","sig":"' + b64(sig) + '"}]},'
        '"hash":{"algorithm":"sha256","value":"' + REKOR_ENVELOPE_HASH + '"},'
        '"payloadHash":{"algorithm":"sha256","value":"' + REKOR_PAYLOAD_HASH + '"}}}}'
    ).encode()  # publicKey as sent (no trailing newline added), sig double base64, payload dropped
    assert leaf_hash(body).hex() == "83575b0a85534c9f9fc0698ae1ff5adf6e540d7b4d386fec0abbbde38ce6d0bb"
    assert entry.index_keys() == ["sha256:" + sha256_hex(REKOR_PEM_CANONICAL),
                                  "sha256:" + REKOR_PAYLOAD_HASH, "foo:bar"]
    assert entry.attestation() == base64.b64decode(env["payload"])
    assert entry.artifact_hash() == "sha256:" + REKOR_PAYLOAD_HASH
    stored = json.loads(body)
    assert parse_entry(stored).canonicalize() == body
    assert error_of(stored, "intoto") == _E + "entry not insertable into log: missing envelope content"


def test_v2_rekor_multi_signature_vector() -> None:
    env = json.loads((V2 / "intoto_multi_dsse.json").read_text())
    pub2 = (V2 / "intoto_multi_pub2.pem").read_bytes()
    entry = v2(intoto2_entry(env, [REKOR_PEM, pub2]))
    assert entry.index_keys()[:2] == ["sha256:" + sha256_hex(REKOR_PEM_CANONICAL),
                                      "sha256:" + sha256_hex(X509PublicKey.from_bytes(pub2).canonical_value())]
    # The keys in the other order still cover both signatures.
    assert v2(intoto2_entry(env, [pub2, REKOR_PEM])).payload_hash == entry.payload_hash
    # One key twice: the second signature is covered by nobody.
    assert error_of(intoto2_entry(env, [REKOR_PEM, REKOR_PEM]), "intoto") == (
        _E + "all signatures must have a key that verifies it")


def test_v2_sha512_subject_from_rekor_e2e() -> None:
    envelope = json.loads((VECTORS / "dsse" / "0.0.1" / "rekor" / "envelope.sha512").read_text())
    pub = (VECTORS / "dsse" / "0.0.1" / "rekor" / "test_sha512.pub").read_bytes()
    keys = v2(intoto2_entry(envelope, [pub])).index_keys()
    assert ("sha512:c7694a1112ea1404a3c5852bdda04c2cc224b3567ef6ceb8204dbf2b382daacf"
            "c6837ee2ed9d5b82c90b880a3c7289778dbd5a8c2c08193459bcf7bd44581ed0") in keys


@pytest.mark.parametrize("key", [P256, P384, RSA2048, ED25519, CERT_KEY],
                         ids=["p256", "p384", "rsa2048", "ed25519", "cert"])
def test_v2_key_types_and_keyid_kept(key: Any) -> None:
    env = envelope_dict(STATEMENT_BYTES, [key], keyids=["my-key"])
    signer = CERT if key is CERT_KEY else key
    entry = v2(intoto2_entry(env, [pem_of(signer)]))
    sigs = json.loads(entry.canonicalize())["spec"]["content"]["envelope"]["signatures"]
    assert sigs == [{"keyid": "my-key", "publicKey": b64(pem_of(signer)), "sig": b64(env["signatures"][0]["sig"])}]
    subjects = ["alice@example.com"] if key is CERT_KEY else []
    assert entry.index_keys() == [key_hash_key(signer), *subjects,
                                  "sha256:" + sha256_hex(STATEMENT_BYTES), *STATEMENT_KEYS]


def test_v2_statement_quirks() -> None:
    # SLSA materials need the whole statement to fit in-toto-golang's typed
    # SLSA 0.2 structs: a bad timestamp drops them (not the subjects).
    bad_time = copy.deepcopy(STATEMENT)
    bad_time["predicate"]["metadata"]["buildStartedOn"] = "yesterday"
    payload = json.dumps(bad_time).encode()
    entry = v2(intoto2_entry(envelope_dict(payload, [P256]), [pem_of(P256)]))
    assert entry.index_keys()[2:] == STATEMENT_KEYS[:3]
    # A subject list of the wrong type drops every statement key; keys are case-insensitive.
    odd = {"SUBJECT": [{"Digest": {"SHA256": "AB"}}], "subject": 5}
    entry = v2(intoto2_entry(envelope_dict(json.dumps(odd).encode(), [P256]), [pem_of(P256)]))
    assert len(entry.index_keys()) == 2
    odd = {"SUBJECT": [{"Digest": {"SHA256": "AB"}}]}
    entry = v2(intoto2_entry(envelope_dict(json.dumps(odd).encode(), [P256]), [pem_of(P256)]))
    assert entry.index_keys()[2:] == ["sha256:ab"]
    # Over-long digests are not indexed.
    long = {"subject": [{"digest": {"sha256": "a" * 600}}]}
    entry = v2(intoto2_entry(envelope_dict(json.dumps(long).encode(), [P256]), [pem_of(P256)]))
    assert len(entry.index_keys()) == 2


_V2_ENV = envelope_dict(STATEMENT_BYTES, [P256])
_V2_GOOD = intoto2_entry(_V2_ENV, [pem_of(P256)])


def _v2_with(**changes: Any) -> dict[str, Any]:
    entry = copy.deepcopy(_V2_GOOD)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target: Any = entry["spec"]["content"]
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return entry


_OTHER_SIG = envelope_dict(STATEMENT_BYTES, [OTHER])["signatures"][0]["sig"]
_SIGS = "content.envelope.signatures"

V2_REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong-key", _v2_with(envelope__signatures__0__publicKey=b64(pem_of(OTHER))),
     _E + "could not verify envelope: " + _NO_MATCH),
    ("tampered-payload", _v2_with(envelope__payload=b64(b64(STATEMENT_BYTES + b" "))),
     _E + "could not verify envelope: " + _NO_MATCH),
    ("sig-single-base64", _v2_with(envelope__signatures__0__sig=_V2_ENV["signatures"][0]["sig"]),
     _E + "could not verify envelope: "
          "unable to base64 decode payload (is payload in the right format?)"),
    ("sig-truncated",
     _v2_with(envelope__signatures__0__sig=b64(_V2_ENV["signatures"][0]["sig"][:40])),
     _E + "could not verify envelope: " + _NO_MATCH),
    ("sig-cut-mid-quantum",
     _v2_with(envelope__signatures__0__sig=b64(_V2_ENV["signatures"][0]["sig"][:41])),
     _E + "could not verify envelope: "
          "unable to base64 decode payload (is payload in the right format?)"),
    (
        "signature-no-key-covers",
        _v2_with(envelope__signatures=[*_V2_GOOD["spec"]["content"]["envelope"]["signatures"],
                                       {"sig": b64(_OTHER_SIG), "publicKey": b64(pem_of(P256))}]),
        _E + "all signatures must have a key that verifies it",
    ),
    ("payload-bad-base64", _v2_with(envelope__payload="QQ="),
     _E + "failed parsing base64 data for payload: illegal base64 data"),
    ("sig-bad-base64", _v2_with(envelope__signatures__0__sig="QQ="),
     _E + "failed parsing base64 data for signature: illegal base64 data"),
    ("public-key-bad-base64", _v2_with(envelope__signatures__0__publicKey="QQ="),
     _E + "failed parsing base64 data for public key: illegal base64 data"),
    ("public-key-der", _v2_with(envelope__signatures__0__publicKey=b64(b"\x30\x00")),
     _E + "could not parse public key as x509: invalid public key: failure decoding PEM"),
    ("payload-url-safe", _v2_with(envelope__payload=b64(base64.urlsafe_b64encode(b"\xfb\xff"))),
     _E + "could not verify envelope: " + _NO_MATCH),
    ("missing-payload-type", _v2_with(envelope__payloadType=...),
     _V + "content.envelope.payloadType in body is required"),
    ("missing-signatures", _v2_with(envelope__signatures=...), _V + f"{_SIGS} in body is required"),
    ("signatures-empty", _v2_with(envelope__signatures=[]), _V + f"{_SIGS} in body should have at least 1 items"),
    ("signatures-only-junk", _v2_with(envelope__signatures=["x", 1]),
     _V + f"{_SIGS} in body should have at least 1 items"),
    ("signature-missing-sig", _v2_with(envelope__signatures__0__sig=...), _V + f"{_SIGS}.0.sig in body is required"),
    ("signature-missing-key", _v2_with(envelope__signatures__0__publicKey=...),
     _V + f"{_SIGS}.0.publicKey in body is required"),
    ("content-missing", {"kind": "intoto", "apiVersion": "0.0.2", "spec": {}},
     _V + "content.envelope.payloadType in body is required"),
    ("envelope-is-list", _v2_with(envelope=[]), _V + "content.envelope.payloadType in body is required"),
    ("hash-bad-algorithm", _v2_with(hash={"algorithm": "md5", "value": "x"}),
     _V + "content.hash.algorithm in body should be one of [sha256]"),
    ("hash-missing", _v2_with(hash=...), _E + "missing envelope digest (content.hash is required)"),
    ("stored-form-no-payload-hash", _v2_with(envelope__payload=...),
     _E + "missing payload digest (content.payloadHash is required)"),
    ("stored-form-posted",
     _v2_with(envelope__payload=..., payloadHash={"algorithm": "sha256", "value": "00"}),
     _E + "entry not insertable into log: missing envelope content"),
    ("empty-payload-type-posted",
     intoto2_entry(envelope_dict(b"x", [P256], payload_type=""), [pem_of(P256)]),
     _E + "entry not insertable into log: missing payloadType content"),
]


@pytest.mark.parametrize(("name", "entry", "message"), V2_REJECTIONS, ids=[r[0] for r in V2_REJECTIONS])
def test_v2_rejections(name: str, entry: dict[str, Any], message: str) -> None:
    assert error_of(entry, "intoto") == message


def test_good_entries_of_the_rejection_tables_are_accepted() -> None:
    assert v1(_V1_GOOD).payload == STATEMENT_BYTES
    assert v2(_V2_GOOD).payload == STATEMENT_BYTES


# ---- junk ---------------------------------------------------------------------------------

_KEYS = ["content", "envelope", "hash", "payloadHash", "publicKey", "payload", "payloadType",
         "signatures", "sig", "keyid", "algorithm", "value"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2)
        | st.sampled_from(["", "AAAA", "sha256", "é", _V1_GOOD["spec"]["content"]["envelope"],
                           b64(pem_of(P256))]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=250, deadline=None)
@given(spec=_json, version=st.sampled_from(["0.0.1", "0.0.2"]))
def test_junk_specs_raise_only_invalid_entry(spec: Any, version: str) -> None:
    only_invalid_entry({"kind": "intoto", "apiVersion": version, "spec": spec})
