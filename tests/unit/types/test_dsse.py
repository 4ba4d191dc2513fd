"""dsse 0.0.1: production vectors, fresh keys of every type, the stored form, rejections, junk."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.types import parse_entry
from rekor_py.types.base import leaf_hash
from rekor_py.types.dsse.v0_0_1 import DSSEV001
from rekor_py.types.dsse_envelope import decode_dsse_base64, pae
from tests.unit.pki import PrivateKey
from tests.unit.types.dsse_helpers import (
    CERT,
    CERT_KEY,
    ED25519,
    IN_TOTO,
    OTHER,
    P256,
    P384,
    RSA2048,
    STATEMENT_BYTES,
    STATEMENT_KEYS,
    VECTORS,
    b64,
    dsse_entry,
    envelope_dict,
    envelope_text,
    error_of,
    key_hash_key,
    only_invalid_entry,
    pem_of,
    sha256_hex,
    submit,
)

DIR = VECTORS / "dsse" / "0.0.1"
PRODUCTION = json.loads((DIR / "pypi-attestations.json").read_text())


def dsse(entry: Any) -> DSSEV001:
    parsed = submit(entry, "dsse")
    assert isinstance(parsed, DSSEV001)
    return parsed


# ---- vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", PRODUCTION, ids=[v["source_file"] for v in PRODUCTION])
def test_production_rekor_leaves(vector: dict[str, Any]) -> None:
    """Three leaves production Rekor wrote: our canonical bytes are Rekor's, byte for byte."""
    entry = dsse(vector["proposed_entry"])
    body = entry.canonicalize()
    assert body == vector["canonical_body"].encode()
    assert leaf_hash(body).hex() == vector["leaf_hash"]
    assert entry.index_keys() == vector["index_keys"]
    assert entry.artifact_hash() == "sha256:" + vector["payload_sha256"]
    # dsse never stores the payload (docs/rekor-compat.md#attestations).
    assert entry.attestation() is None
    # The stored form parses (search by entry) to the same leaf, but cannot be inserted.
    stored = parse_entry(json.loads(body))
    assert stored.canonicalize() == body
    assert error_of(json.loads(body), "dsse") == (
        "error processing entry: entry not insertable into log: missing proposed content"
    )


def test_production_index_keys_in_rekor_order() -> None:
    # Per signature: key hash then SANs; then payload hash, envelope hash, subject digests.
    keys = PRODUCTION[2]["index_keys"]
    spec = json.loads(PRODUCTION[2]["canonical_body"])["spec"]
    assert keys[1] == "william@yossarian.net"
    assert keys[2:4] == ["sha256:" + spec["payloadHash"]["value"], "sha256:" + spec["envelopeHash"]["value"]]
    assert keys[4] == "sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"


def test_rekor_models_testdata() -> None:
    vector = json.loads((DIR / "rekor" / "models-testdata-dsse.json").read_text())
    entry = dsse(vector)
    envelope = vector["spec"]["proposedContent"]["envelope"]
    key_pem = base64.b64decode(vector["spec"]["proposedContent"]["verifiers"][0]) + b"\n"  # canonical PEM ends in \n
    sig = json.loads(envelope)["signatures"][0]["sig"]
    payload_hash = "7ebff188cca1e3300b2e21f4a40b5b5b8c7e8f786bb95ea0c957a2e516636d5d"
    assert entry.canonicalize() == (
        '{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"'
        + sha256_hex(envelope)
        + '"},"payloadHash":{"algorithm":"sha256","value":"'
        + payload_hash
        + '"},"signatures":[{"signature":"'
        + sig
        + '","verifier":"'
        + b64(key_pem)
        + '"}]}}'
    ).encode()
    assert sha256_hex(envelope) == "7fa2e20d48a4c5582c7de504622dc2ea2bdc58f28cd871753c3a345c737eba5e"
    assert leaf_hash(entry.canonicalize()).hex() == "3a3f0515ff04d7a17fdf0713d74e479c215d2ac4c2e81095b1f43360c15b7666"
    assert entry.index_keys() == ["sha256:" + sha256_hex(key_pem), "sha256:" + payload_hash,
                                  "sha256:" + sha256_hex(envelope), "foo:bar"]


def test_rekor_sha512_subject_envelope() -> None:
    envelope = (DIR / "rekor" / "envelope.sha512").read_text()
    entry = dsse(dsse_entry(envelope, [(DIR / "rekor" / "test_sha512.pub").read_bytes()]))
    sha512 = ("c7694a1112ea1404a3c5852bdda04c2cc224b3567ef6ceb8204dbf2b382daacf"
              "c6837ee2ed9d5b82c90b880a3c7289778dbd5a8c2c08193459bcf7bd44581ed0")
    payload = base64.b64decode(json.loads(envelope)["payload"])
    assert entry.index_keys() == [
        "sha256:" + sha256_hex((DIR / "rekor" / "test_sha512.pub").read_bytes()),
        "sha256:" + sha256_hex(payload),
        "sha256:" + sha256_hex(envelope),
        "sha512:" + sha512,
        "sha1:a2beb590ae85674bb3afe9ef5493f718cdff8ee7",  # predicate.materials[0]
    ]


# ---- fresh keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "kwargs"),
    [
        ("p256-der", P256, {}),
        ("p256-p1363", P256, {"p1363": True}),
        ("p384-sha256", P384, {}),
        ("rsa2048", RSA2048, {}),
        ("ed25519", ED25519, {}),
    ],
)
def test_key_types(name: str, key: Any, kwargs: dict[str, Any]) -> None:
    envelope = envelope_text(STATEMENT_BYTES, [key], **kwargs)
    entry = dsse(dsse_entry(envelope, [pem_of(key)]))
    sig = json.loads(envelope)["signatures"][0]["sig"]
    spec = json.loads(entry.canonicalize())["spec"]
    assert spec == {
        "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(envelope)},
        "payloadHash": {"algorithm": "sha256", "value": sha256_hex(STATEMENT_BYTES)},
        "signatures": [{"signature": sig, "verifier": b64(pem_of(key))}],
    }
    assert entry.index_keys() == [
        key_hash_key(key),
        "sha256:" + sha256_hex(STATEMENT_BYTES),
        "sha256:" + sha256_hex(envelope),
        *STATEMENT_KEYS,
    ]
    assert [v.canonical_value() for v in entry.verifiers()] == [pem_of(key)]
    assert entry.artifact_hash() == "sha256:" + sha256_hex(STATEMENT_BYTES)


def test_p384_sha384_envelope_fails() -> None:
    # Verifiers are fixed at SHA-256 (docs/rekor-compat.md#trap-sha256-only).
    envelope = envelope_text(STATEMENT_BYTES, [P384], digest=hashes.SHA384())
    assert error_of(dsse_entry(envelope, [pem_of(P384)]), "dsse") == (
        "error processing entry: could not verify envelope: "
        "accepted signatures do not match threshold, Found: 0, Expected 1"
    )


def test_certificate_with_email_san() -> None:
    envelope = envelope_text(STATEMENT_BYTES, [CERT_KEY])
    entry = dsse(dsse_entry(envelope, [pem_of(CERT)]))
    assert entry.index_keys()[:2] == [key_hash_key(CERT), "alice@example.com"]
    assert json.loads(entry.canonicalize())["spec"]["signatures"][0]["verifier"] == b64(pem_of(CERT))


def test_many_signatures_sorted_and_matched_to_their_keys() -> None:
    env = envelope_dict(b"hello", [RSA2048, P256, ED25519], payload_type="text/plain")
    envelope = json.dumps(env)
    entry = dsse(dsse_entry(envelope, [pem_of(ED25519), pem_of(P256), pem_of(RSA2048)]))
    signers: list[PrivateKey] = [RSA2048, P256, ED25519]
    by_key = {s["sig"]: k for s, k in zip(env["signatures"], signers, strict=True)}
    sigs = json.loads(entry.canonicalize())["spec"]["signatures"]
    assert [s["signature"] for s in sigs] == sorted(by_key)
    assert [s["verifier"] for s in sigs] == [b64(pem_of(by_key[s["signature"]])) for s in sigs]
    # A non-in-toto payload adds no statement keys; key hashes follow the sorted signatures.
    assert entry.index_keys() == [key_hash_key(by_key[s["signature"]]) for s in sigs] + [
        "sha256:" + sha256_hex(b"hello"),
        "sha256:" + sha256_hex(envelope),
    ]


def test_duplicate_signatures_collapse() -> None:
    env = envelope_dict(b"hi", [P256], payload_type="text/plain")
    env["signatures"] = env["signatures"] * 2
    entry = dsse(dsse_entry(json.dumps(env), [pem_of(P256)]))
    assert len(json.loads(entry.canonicalize())["spec"]["signatures"]) == 1


def test_verifiers_left_over_are_not_checked() -> None:
    # Rekor stops once every signature is verified: a trailing key that verifies
    # nothing, or does not even parse, is never looked at.
    envelope = envelope_text(b"x", [P256], payload_type="t")
    entry = dsse(dsse_entry(envelope, [pem_of(P256), pem_of(OTHER), b"not a key"]))
    assert [v.canonical_value() for v in entry.verifiers()] == [pem_of(P256)]


def test_keyid_is_ignored_and_url_safe_base64_accepted() -> None:
    payload = b"\xfb\xff\xfe" * 5  # base64 with + and /, so the URL-safe form differs
    env = envelope_dict(payload, [P256], payload_type="t", keyids=["some-other-key"])
    env["payload"] = base64.urlsafe_b64encode(payload).decode()
    env["signatures"][0]["sig"] = base64.urlsafe_b64encode(base64.b64decode(env["signatures"][0]["sig"])).decode()
    entry = dsse(dsse_entry(json.dumps(env), [pem_of(P256)]))
    assert json.loads(entry.canonicalize())["spec"]["payloadHash"]["value"] == sha256_hex(payload)
    # The sig is stored exactly as sent, URL-safe alphabet included.
    assert json.loads(entry.canonicalize())["spec"]["signatures"][0]["signature"] == env["signatures"][0]["sig"]


def test_one_key_matches_one_signature_per_pass() -> None:
    # go-securesystemslib removes a verifier once it has matched, so one key
    # listed once cannot cover two of its own signatures: list it twice.
    env = envelope_dict(b"x", [P256, P256], payload_type="t")
    text = json.dumps(env)
    assert error_of(dsse_entry(text, [pem_of(P256)]), "dsse") == (
        "error processing entry: all signatures must have a key that verifies it"
    )
    # Listed twice, the second pass matches the first signature again; still one uncovered.
    assert error_of(dsse_entry(text, [pem_of(P256), pem_of(P256)]), "dsse").endswith("must have a key that verifies it")


def test_pae_and_lenient_base64() -> None:
    assert pae("a/b", b"xyz") == b"DSSEv1 3 a/b 3 xyz"
    assert pae("é", b"") == b"DSSEv1 2 \xc3\xa9 0 "
    assert decode_dsse_base64("-_8=") == b"\xfb\xff"
    assert decode_dsse_base64("+/8=") == b"\xfb\xff"
    assert decode_dsse_base64("+_8=") is None
    assert decode_dsse_base64("é") is None


def test_stored_form_round_trip_keeps_order_and_duplicates() -> None:
    sig_a, sig_b = b64(b"a" * 12), b64(b"b" * 12)
    key = b64(pem_of(P256))
    spec = {
        "envelopeHash": {"algorithm": "sha256", "value": "E" * 64},
        "payloadHash": {"algorithm": "sha256", "value": "f" * 64},
        "signatures": [{"signature": sig_b, "verifier": key}, {"signature": sig_a, "verifier": key},
                       {"signature": sig_a, "verifier": key}],
    }
    entry = parse_entry({"kind": "dsse", "apiVersion": "0.0.1", "spec": spec})
    got = json.loads(entry.canonicalize())["spec"]
    assert [s["signature"] for s in got["signatures"]] == [sig_a, sig_a, sig_b]
    assert got["envelopeHash"]["value"] == "E" * 64  # client value kept exactly
    assert parse_entry(json.loads(entry.canonicalize())).canonicalize() == entry.canonicalize()


# ---- rejections ---------------------------------------------------------------------------

_ENV = envelope_text(STATEMENT_BYTES, [P256])
_GOOD = dsse_entry(_ENV, [pem_of(P256)])
_V = "error processing entry: validation failure list:\n"
_E = "error processing entry: "
_SIG_PATTERN = r"^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$"


def _with(spec_changes: dict[str, Any] | None = None, env_changes: dict[str, Any] | None = None,
          **proposed: Any) -> dict[str, Any]:
    entry = copy.deepcopy(_GOOD)
    if env_changes is not None:
        env = json.loads(_ENV)
        env.update(env_changes)
        entry["spec"]["proposedContent"]["envelope"] = json.dumps(env)
    for key, value in proposed.items():
        if value is ...:
            del entry["spec"]["proposedContent"][key]
        else:
            entry["spec"]["proposedContent"][key] = value
    for key, value in (spec_changes or {}).items():
        if value is ...:
            del entry["spec"][key]
        else:
            entry["spec"][key] = value
    return entry


_TAMPERED = json.loads(_ENV)
_TAMPERED["payload"] = b64(STATEMENT_BYTES + b" ")
_GOOD_SIG = json.loads(_ENV)["signatures"][0]
_HASH = {"algorithm": "sha256", "value": "00"}
_CANON_SIG = [{"signature": _GOOD_SIG["sig"], "verifier": b64(pem_of(P256))}]

REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("wrong-key", _with(verifiers=[b64(pem_of(OTHER))]),
     _E + "could not verify envelope: accepted signatures do not match threshold, Found: 0, "
          "Expected 1"),
    ("tampered-payload", _with(env_changes={"payload": _TAMPERED["payload"]}),
     _E + "could not verify envelope: accepted signatures do not match threshold, Found: 0, "
          "Expected 1"),
    ("tampered-payload-type", _with(env_changes={"payloadType": "text/plain"}),
     _E + "could not verify envelope: accepted signatures do not match threshold, Found: 0, "
          "Expected 1"),
    ("truncated-signature",
     _with(env_changes={"signatures": [{"sig": _GOOD_SIG["sig"][:-8] + "AAAAAA=="}]}),
     _E + "could not verify envelope: accepted signatures do not match threshold, Found: 0, "
          "Expected 1"),
    ("garbage-signature-base64", _with(env_changes={"signatures": [{"sig": "!!!"}]}),
     _E + "could not verify envelope: "
          "unable to base64 decode payload (is payload in the right format?)"),
    ("garbage-payload-base64", _with(env_changes={"payload": "%%%"}),
     _E + "could not verify envelope: "
          "unable to base64 decode payload (is payload in the right format?)"),
    ("verifier-verifies-nothing", _with(verifiers=[b64(pem_of(OTHER)), b64(pem_of(P256))]),
     _E + "could not verify envelope: accepted signatures do not match threshold, Found: 0, "
          "Expected 1"),
    (
        "signature-no-verifier-covers",
        _with(env_changes={"signatures": [_GOOD_SIG, envelope_dict(STATEMENT_BYTES, [OTHER])["signatures"][0]]}),
        _E + "all signatures must have a key that verifies it",
    ),
    ("no-signatures", _with(env_changes={"signatures": []}), _E + "DSSE envelope must contain 1 or more signatures"),
    ("signatures-null", _with(env_changes={"signatures": None}),
     _E + "DSSE envelope must contain 1 or more signatures"),
    ("envelope-not-json", _with(envelope="{not json"), _E + "invalid character 'n' at offset 2"),
    ("envelope-truncated", _with(envelope=_ENV[:20]), _E + "unexpected end of JSON input"),
    ("envelope-is-array", _with(envelope="[]"),
     _E + "json: cannot unmarshal array into Go value of type dsse.Envelope"),
    ("envelope-payload-type-number", _with(env_changes={"payloadType": 7}),
     _E + "json: cannot unmarshal number into Go struct field Envelope.payloadType of type string"),
    ("envelope-sig-number", _with(env_changes={"signatures": [{"sig": 1}]}),
     _E + "json: cannot unmarshal number into Go struct field "
          "Signature.signatures.sig of type string"),
    ("envelope-signatures-object", _with(env_changes={"signatures": {}}),
     _E + "json: cannot unmarshal object into Go struct field Envelope.signatures of "
          "type []dsse.Signature"),
    ("verifier-bad-base64", _with(verifiers=["QQ="]),
     _E + "failed parsing base64 data for verifier: illegal base64 data"),
    ("verifier-der", _with(verifiers=[b64(b"\x30\x03\x02\x01\x01")]),
     _E + "could not parse public key as x509: invalid public key: failure decoding PEM"),
    ("verifiers-empty", _with(verifiers=[]), _V + "proposedContent.verifiers in body should have at least 1 items"),
    ("verifiers-only-junk", _with(verifiers=[1, "", None]),
     _V + "proposedContent.verifiers in body should have at least 1 items"),
    ("verifiers-missing", _with(verifiers=...), _V + "proposedContent.verifiers in body is required"),
    ("verifiers-string", _with(verifiers=b64(pem_of(P256))), _V + "proposedContent.verifiers in body is required"),
    ("envelope-missing", _with(envelope=...), _V + "proposedContent.envelope in body is required"),
    ("envelope-is-object", _with(envelope={}), _V + "proposedContent.envelope in body is required"),
    ("nothing", _with({"proposedContent": ...}),
     _E + "either proposedContent or envelopeHash, payloadHash, and signatures must be present"),
    ("proposed-content-is-list", _with({"proposedContent": []}),
     _E + "either proposedContent or envelopeHash, payloadHash, and signatures must be present"),
    ("client-set-envelope-hash", _with({"envelopeHash": _HASH}),
     _E + "either proposedContent or envelopeHash, payloadHash, "
          "and signatures must be present but not both"),
    ("client-set-payload-hash", _with({"payloadHash": _HASH}),
     _E + "either proposedContent or envelopeHash, payloadHash, "
          "and signatures must be present but not both"),
    ("client-set-signatures", _with({"signatures": _CANON_SIG}),
     _E + "either proposedContent or envelopeHash, payloadHash, "
          "and signatures must be present but not both"),
    ("client-hash-bad-algorithm", _with({"envelopeHash": {"algorithm": "md5", "value": "00"}}),
     _V + "envelopeHash.algorithm in body should be one of [sha256]"),
    ("client-hashes-both-bad", _with({"envelopeHash": {}, "payloadHash": {"algorithm": "sha256"}}),
     _V + "envelopeHash.algorithm in body is required\npayloadHash.value in body is required"),
    ("signatures-empty", _with({"signatures": []}), _V + "signatures in body should have at least 1 items"),
    ("stored-signature-missing",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "payloadHash": _HASH,
            "signatures": [{"verifier": b64(b"k")}]}),
     _V + "signatures.0.signature in body is required"),
    ("stored-signature-pattern",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "payloadHash": _HASH,
            "signatures": [{"signature": "-_8=", "verifier": b64(b"k")}]}),
     _V + f"signatures.0.signature in body should match '{_SIG_PATTERN}'"),
    ("stored-signature-trailing-newline",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "payloadHash": _HASH,
            "signatures": [{"signature": "AAAA\n", "verifier": b64(b"k")}]}),
     _V + f"signatures.0.signature in body should match '{_SIG_PATTERN}'"),
    ("stored-verifier-missing",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "payloadHash": _HASH,
            "signatures": [{"signature": "AAAA"}]}),
     _V + "signatures.0.verifier in body is required"),
    ("stored-verifier-bad-base64",
     _with({"proposedContent": ..., "signatures": [{"signature": "AAAA", "verifier": "QQ="}]}),
     _E + "failed parsing base64 data for signature verifier: illegal base64 data"),
    ("stored-missing-payload-hash",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "signatures": _CANON_SIG}),
     _E + "either proposedContent or envelopeHash, payloadHash, and signatures must be present"),
    ("stored-form-posted",
     _with({"proposedContent": ..., "envelopeHash": _HASH, "payloadHash": _HASH,
            "signatures": _CANON_SIG}),
     _E + "entry not insertable into log: missing proposed content"),
]


@pytest.mark.parametrize(("name", "entry", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections(name: str, entry: dict[str, Any], message: str) -> None:
    assert error_of(entry, "dsse") == message


def test_good_entry_of_the_rejection_table_is_accepted() -> None:
    assert dsse(_GOOD).index_keys()[0] == key_hash_key(P256)


# ---- junk ---------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3)
        | st.sampled_from(["", "AAAA", "sha256", "x", _ENV, b64(pem_of(P256))]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["proposedContent", "envelope", "verifiers", "signatures", "signature",
                         "verifier", "envelopeHash", "payloadHash", "algorithm", "value"]),
        inner,
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(spec=_json)
def test_junk_specs_raise_only_invalid_entry(spec: Any) -> None:
    only_invalid_entry({"kind": "dsse", "apiVersion": "0.0.1", "spec": spec})


@settings(max_examples=150, deadline=None)
@given(envelope=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
        | st.sampled_from(["AAAA", b64(STATEMENT_BYTES), IN_TOTO]),
    lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["payload", "payloadType", "signatures", "sig", "keyid",
                                           "PAYLOAD"]), inner, max_size=4),
    max_leaves=10,
))
def test_junk_envelopes_raise_only_invalid_entry(envelope: Any) -> None:
    only_invalid_entry(dsse_entry(json.dumps(envelope), [pem_of(P256)]))
