"""hashedrekord 0.0.1 and the entry registry: vectors, fresh keys, rejections, junk."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.errors import InvalidEntry, UnprocessableEntity
from rekor_py.pki.ed25519ph import _sign_ed25519ph
from rekor_py.types import KNOWN_KINDS, parse_entry, registered
from rekor_py.types.base import leaf_hash
from rekor_py.types.hashedrekord.v0_0_1 import HashedRekordV001
from tests.tools.entries import with_changes
from tests.unit.pki import cert_pem, make_chain, spki_pem

VECTORS = Path(__file__).parents[2] / "vectors" / "types" / "hashedrekord" / "0.0.1"
ALGOS = VECTORS / "client-algos"
WORKED = json.loads((VECTORS / "worked-example.json").read_text())
ENABLED = frozenset({"hashedrekord"})
_HASH = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def proposed(signature: bytes, key_pem: bytes, algorithm: str, value: str) -> dict[str, Any]:
    return {
        "kind": "hashedrekord",
        "apiVersion": "0.0.1",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": value}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(key_pem)}},
        },
    }


def submit(entry: Any) -> HashedRekordV001:
    """The insertion path (POST): kind allow-list and client algorithm policy on."""
    parsed = parse_entry(entry, insertable_kinds=ENABLED)
    assert isinstance(parsed, HashedRekordV001)
    return parsed


def error_of(entry: Any, insertable: frozenset[str] | None = ENABLED) -> tuple[int, str]:
    with pytest.raises((InvalidEntry, UnprocessableEntity)) as e:
        parse_entry(entry, insertable_kinds=insertable)
    err = e.value
    assert isinstance(err, (InvalidEntry, UnprocessableEntity))
    return err.status, err.client_message


# ---- vectors ------------------------------------------------------------------------------


def test_registry_and_known_kinds() -> None:
    assert registered()[("hashedrekord", "0.0.1")] is HashedRekordV001
    assert "hashedrekord" in KNOWN_KINDS and "dsse" in KNOWN_KINDS and len(KNOWN_KINDS) == 11


def test_worked_example_spec_4_9() -> None:
    entry = submit(WORKED["proposed_entry"])
    body = entry.canonicalize()
    assert body == WORKED["canonical_body"].encode()
    assert leaf_hash(body).hex() == WORKED["leaf_hash"]
    assert entry.index_keys() == WORKED["index_keys"]
    assert entry.artifact_hash() == WORKED["index_keys"][1]
    assert [v.canonical_value() for v in entry.verifiers()] == [(ALGOS / "ec_public.pem").read_bytes()]


def _set(entry: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        entry = entry[p]
    entry[last] = value


@pytest.mark.parametrize("mutation", WORKED["mutations"], ids=[m["name"] for m in WORKED["mutations"]])
def test_worked_example_mutations(mutation: dict[str, Any]) -> None:
    entry = copy.deepcopy(WORKED["proposed_entry"])
    for path, value in mutation["set"].items():
        _set(entry, path, value)
    assert error_of(entry) == (mutation.get("want_status", 400), mutation["want_error"])


CLIENT_ALGOS = json.loads((VECTORS / "client-algos.json").read_text())["cases"]


@pytest.mark.parametrize("case", CLIENT_ALGOS, ids=[c["name"] for c in CLIENT_ALGOS])
def test_client_algos_vectors(case: dict[str, Any]) -> None:
    artifact = (ALGOS / case["artifact"]).read_bytes()
    value = _HASH[case["algorithm"]](artifact).hexdigest()
    entry = proposed((ALGOS / case["signature"]).read_bytes(),
                     (ALGOS / case["public_key"]).read_bytes(), case["algorithm"], value)
    if case["want_error"] is None:
        parsed = submit(entry)
        body = json.loads(parsed.canonicalize())
        assert body["spec"]["data"]["hash"] == {"algorithm": case["algorithm"], "value": value}
        assert base64.b64decode(body["spec"]["signature"]["publicKey"]["content"]) == (
            (ALGOS / case["public_key"]).read_bytes())
        # The stored body parses and verifies again, to the same bytes.
        assert submit(body).canonicalize() == parsed.canonicalize()
    else:
        assert error_of(entry) == (400, case["want_error"])


def test_policy_applies_only_on_insertion() -> None:
    # file2.rsa512.sig verifies; only the algorithm policy refuses it, and search skips the policy.
    entry = proposed((ALGOS / "file2.rsa512.sig").read_bytes(),
                     (ALGOS / "rsa_public.pem").read_bytes(), "sha512",
                     hashlib.sha512((ALGOS / "file2").read_bytes()).hexdigest())
    assert isinstance(parse_entry(entry), HashedRekordV001)
    # sigstore has no RSA/sha512 algorithm at all, so no configuration admits it.
    with pytest.raises(InvalidEntry, match="entry algorithms are not allowed"):
        parse_entry(entry, insertable_kinds=ENABLED,
                    client_signing_algorithms=frozenset({"rsa-sign-pkcs1-2048-sha256"}))
    # Rekor's e2e: restricted to rsa-2048 and ed25519-ph, an ECDSA entry is refused.
    ec_entry = WORKED["proposed_entry"]
    restricted = frozenset({"rsa-sign-pkcs1-2048-sha256", "ed25519-ph"})
    with pytest.raises(InvalidEntry, match="entry algorithms are not allowed"):
        parse_entry(ec_entry, insertable_kinds=ENABLED, client_signing_algorithms=restricted)


# ---- fresh keys ---------------------------------------------------------------------------


def _rsa_entry(bits: int, algorithm: str) -> dict[str, Any]:
    key = rsa.generate_private_key(65537, bits)
    h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[algorithm]
    digest = _HASH[algorithm](b"artifact").digest()
    sig = key.sign(digest, rsa_padding.PKCS1v15(), utils.Prehashed(h))
    return proposed(sig, spki_pem(key), algorithm, digest.hex())


def _ec_entry(curve: ec.EllipticCurve, algorithm: str, p1363: bool = False) -> dict[str, Any]:
    key = ec.generate_private_key(curve)
    h = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[algorithm]
    digest = _HASH[algorithm](b"artifact").digest()
    sig = key.sign(digest, ec.ECDSA(utils.Prehashed(h)))
    if p1363:
        size = (curve.key_size + 7) // 8
        r, s = utils.decode_dss_signature(sig)
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return proposed(sig, spki_pem(key), algorithm, digest.hex())


def _ed25519ph_entry(algorithm: str = "sha512") -> dict[str, Any]:
    seed = hashlib.sha256(b"test seed").digest()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    digest = hashlib.sha512(b"artifact").digest()
    _, sig = _sign_ed25519ph(seed, digest)
    value = digest.hex() if algorithm == "sha512" else hashlib.sha256(b"artifact").hexdigest()
    return proposed(sig, spki_pem(key), algorithm, value)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("rsa2048-sha256", lambda: _rsa_entry(2048, "sha256")),
        ("rsa3072-sha256", lambda: _rsa_entry(3072, "sha256")),
        ("rsa4096-sha256", lambda: _rsa_entry(4096, "sha256")),
        ("p256-sha256", lambda: _ec_entry(ec.SECP256R1(), "sha256")),
        ("p384-sha384", lambda: _ec_entry(ec.SECP384R1(), "sha384")),
        ("p521-sha512", lambda: _ec_entry(ec.SECP521R1(), "sha512")),
        ("p256-sha256-p1363", lambda: _ec_entry(ec.SECP256R1(), "sha256", p1363=True)),
        ("p521-sha512-p1363", lambda: _ec_entry(ec.SECP521R1(), "sha512", p1363=True)),
        ("ed25519ph-sha512", _ed25519ph_entry),
    ],
)
def test_allowed_pairs(name: str, make: Any) -> None:
    entry = make()
    parsed = submit(entry)
    body = json.loads(parsed.canonicalize())
    # The signature is stored exactly as sent, DER or P1363.
    assert body["spec"]["signature"]["content"] == entry["spec"]["signature"]["content"]


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("rsa2048-sha384", lambda: _rsa_entry(2048, "sha384"), "entry algorithms are not allowed"),
        ("rsa2048-sha512", lambda: _rsa_entry(2048, "sha512"), "entry algorithms are not allowed"),
        ("p256-sha384", lambda: _ec_entry(ec.SECP256R1(), "sha384"), "entry algorithms are not allowed"),
        ("p384-sha256", lambda: _ec_entry(ec.SECP384R1(), "sha256"), "entry algorithms are not allowed"),
        ("p224-sha256", lambda: _ec_entry(ec.SECP224R1(), "sha256"), "entry algorithms are not allowed"),
        ("ed25519ph-sha256", lambda: _ed25519ph_entry("sha256"),
         'verifying signature: unsupported hash algorithm: "SHA-256" not in [SHA-512]'),
    ],
)
def test_disallowed_pairs(name: str, make: Any, message: str) -> None:
    assert error_of(make()) == (400, f"error processing entry: {message}")


def test_der_and_p1363_give_different_leaves() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(b"a").digest()
    der = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    r, s = utils.decode_dss_signature(der)
    p1363 = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    a = submit(proposed(der, spki_pem(key), "sha256", digest.hex())).canonicalize()
    b = submit(proposed(p1363, spki_pem(key), "sha256", digest.hex())).canonicalize()
    assert a != b


def test_upper_case_hex_kept_in_body_lowercased_in_keys() -> None:
    entry = copy.deepcopy(WORKED["proposed_entry"])
    upper = entry["spec"]["data"]["hash"]["value"].upper()
    entry["spec"]["data"]["hash"]["value"] = upper
    parsed = submit(entry)
    assert json.loads(parsed.canonicalize())["spec"]["data"]["hash"]["value"] == upper
    assert parsed.index_keys()[-1] == "sha256:" + upper.lower()
    assert parsed.artifact_hash() == "sha256:" + upper.lower()


def test_base64_with_line_breaks_accepted() -> None:
    entry = copy.deepcopy(WORKED["proposed_entry"])
    content = entry["spec"]["signature"]["publicKey"]["content"]
    entry["spec"]["signature"]["publicKey"]["content"] = content[:20] + "\r\n" + content[20:]
    assert submit(entry).canonicalize() == WORKED["canonical_body"].encode()


def test_certificate_and_chain_entries() -> None:
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    chain = make_chain(leaf_key, sans=[x509.RFC822Name("Dev@Example.com"), x509.DNSName("ci.example.com")])
    digest = hashlib.sha256(b"release.tar.gz").digest()
    sig = leaf_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    for pem in (cert_pem(chain[0]), cert_pem(*chain)):
        parsed = submit(proposed(sig, pem, "sha256", digest.hex()))
        stored = base64.b64decode(json.loads(parsed.canonicalize())["spec"]["signature"]["publicKey"]["content"])
        assert stored == pem
        assert parsed.index_keys() == [hashlib.sha256(pem).hexdigest(), "ci.example.com",
                                       "dev@example.com", "sha256:" + digest.hex()]
    # A chain whose root did not sign the intermediate.
    _, _, other_root = make_chain(ec.generate_private_key(ec.SECP256R1()))
    status, message = error_of(proposed(sig, cert_pem(chain[0], chain[1], other_root), "sha256", digest.hex()))
    assert status == 400 and message.startswith("error processing entry: verifying signature: "
                                                "x509: certificate signed by unknown authority")
    # More than ten certificates.
    status, message = error_of(proposed(sig, cert_pem(*chain, *chain, *chain, chain[0], chain[1]),
                                        "sha256", digest.hex()))
    assert (status, message) == (400, ("error processing entry: too many certificates specified in PEM block; "
                                       "the number of certificates is 11; the limit is 10 "
                                       "(setting max_chain_certificates, REKOR_PY_MAX_CHAIN_CERTIFICATES)"))


# ---- rejection table ----------------------------------------------------------------------


def _worked(**changes: Any) -> dict[str, Any]:
    """The worked example with dotted-path changes; a value of ... deletes the field."""
    return with_changes(WORKED["proposed_entry"], changes, sep="__")


_EC_PEM = (ALGOS / "ec_public.pem").read_bytes()
_OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
_V = "error processing entry: validation failure list:\n"

REJECTIONS: list[tuple[str, Any, int, str]] = [
    ("signature-content-bad-base64", _worked(spec__signature__content="not base64!"), 400,
     "error processing entry: failed parsing base64 data for signature content: "
     "illegal base64 data"),
    ("public-key-bad-base64", _worked(spec__signature__publicKey__content="QQ="), 400,
     "error processing entry: failed parsing base64 data for public key content: "
     "illegal base64 data"),
    ("public-key-der",
     _worked(spec__signature__publicKey__content=b64(base64.b64decode(b"".join(_EC_PEM.split(b"\n")[1:3])))),
     400, "error processing entry: invalid public key: failure decoding PEM"),
    ("public-key-ec-public-key-type",
     _worked(spec__signature__publicKey__content=b64(_EC_PEM.replace(b"PUBLIC KEY", b"EC PUBLIC KEY"))),
     400, "error processing entry: invalid public key: cannot handle type EC PUBLIC KEY"),
    ("hash-too-long", _worked(spec__data__hash__value="00" * 33), 400,
     "error processing entry: invalid value for hash"),
    ("hash-sha512-length-for-sha256", _worked(spec__data__hash__value="00" * 64), 400,
     "error processing entry: invalid value for hash"),
    ("hash-non-hex-space", _worked(spec__data__hash__value=" " + "0" * 63), 400,
     "error processing entry: encoding/hex: invalid byte: U+0020 ' '"),
    ("hash-non-ascii", _worked(spec__data__hash__value="é" + "0" * 62), 400,
     "error processing entry: encoding/hex: invalid byte: U+00C3 'Ã'"),
    ("bad-signature", _worked(spec__signature__content=b64(b"\x30\x06\x02\x01\x01\x02\x01\x01")),
     400,
     "error processing entry: verifying signature: "
     "invalid signature when validating ASN.1 encoded signature"),
    ("wrong-key", _worked(spec__signature__publicKey__content=b64(spki_pem(_OTHER_KEY))), 400,
     "error processing entry: verifying signature: "
     "invalid signature when validating ASN.1 encoded signature"),
    ("missing-spec-signature", _worked(spec__signature=...), 400, _V + "signature in body is required"),
    ("missing-spec-data", _worked(spec__data=...), 400, _V + "data in body is required"),
    ("missing-everything", _worked(spec={}), 400, _V + "data in body is required\nsignature in body is required"),
    ("missing-hash", _worked(spec__data={}), 400, _V + "data in body is required"),
    ("missing-algorithm", _worked(spec__data__hash__algorithm=...), 400,
     _V + "data.hash.algorithm in body is required"),
    ("missing-value", _worked(spec__data__hash__value=...), 400, _V + "data.hash.value in body is required"),
    ("missing-public-key", _worked(spec__signature__publicKey=...), 400, "error processing entry: missing public key"),
    ("missing-public-key-content", _worked(spec__signature__publicKey={}), 400,
     "error processing entry: invalid public key: failure decoding PEM"),
    ("missing-signature-content", _worked(spec__signature__content=...), 400,
     "error processing entry: verifying signature: X509 signature has not been initialized"),
    ("empty-signature-content", _worked(spec__signature__content=""), 400,
     "error processing entry: verifying signature: X509 signature has not been initialized"),
    ("signature-is-string", _worked(spec__signature="MEYC"), 400, _V + "signature in body is required"),
    ("signature-content-is-number", _worked(spec__signature__content=12), 400,
     "error processing entry: verifying signature: X509 signature has not been initialized"),
    ("public-key-is-list", _worked(spec__signature__publicKey=[1]), 400, "error processing entry: missing public key"),
    ("data-is-list", _worked(spec__data=[]), 400, _V + "data in body is required"),
    ("hash-is-string", _worked(spec__data__hash="sha256"), 400, _V + "data in body is required"),
    ("algorithm-is-number", _worked(spec__data__hash__algorithm=256), 400,
     _V + "data.hash.algorithm in body is required"),
    ("value-is-null", _worked(spec__data__hash__value=None), 400, _V + "data.hash.value in body is required"),
    ("algorithm-md5", _worked(spec__data__hash__algorithm="md5"), 400,
     _V + "data.hash.algorithm in body should be one of [sha256 sha384 sha512]"),
    # The envelope.
    ("not-an-object", [], 422, "ProposedEntry must be a JSON object"),
    ("missing-kind", _worked(kind=...), 422, "kind in body is required"),
    ("kind-is-number", _worked(kind=1), 422, "kind in body must be of type string"),
    ("kind-unknown", _worked(kind="x509"), 422, 'invalid kind value: "x509"'),
    ("missing-api-version", _worked(apiVersion=...), 422, "apiVersion in body is required"),
    ("api-version-is-number", _worked(apiVersion=1), 422, "apiVersion in body must be of type string"),
    ("api-version-not-semver", _worked(apiVersion="0.1"), 422, "apiVersion in body should match"),
    ("missing-spec", _worked(spec=...), 422, "spec in body is required"),
    ("spec-is-string", _worked(spec="x"), 400, "error processing entry: unsupported input type string for spec"),
    ("version-not-implemented", _worked(apiVersion="0.0.2"), 400,
     "error processing entry: hashedrekord implementation for version '0.0.2' not found"),
    ("kind-known-not-implemented", _worked(kind="rpm"), 400,
     "error processing entry: rpm implementation for version '0.0.1' not found"),
]


@pytest.mark.parametrize(("name", "entry", "status", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejections(name: str, entry: Any, status: int, message: str) -> None:
    got_status, got_message = error_of(entry)
    assert got_status == status
    assert got_message.startswith(message) if name == "api-version-not-semver" else got_message == message


def test_kind_not_enabled_for_submission() -> None:
    assert error_of(WORKED["proposed_entry"], insertable=frozenset({"dsse"})) == (
        400,
        "error processing entry: entry kind 'hashedrekord' is not enabled for submission on this server",
    )
    # Search (no allow-list) still parses it.
    assert isinstance(parse_entry(WORKED["proposed_entry"]), HashedRekordV001)


# ---- junk ---------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_field = st.one_of(_json,
                   st.sampled_from(["", "QQ==", "sha256", "sha512", "0" * 64,
                                    WORKED["proposed_entry"]["spec"]["signature"]["content"]]))


@st.composite
def _specs(draw: st.DrawFn) -> Any:
    """Specs shaped like hashedrekord with any field replaced by junk or dropped."""
    spec = copy.deepcopy(WORKED["proposed_entry"]["spec"])
    paths = [("data",), ("data", "hash"), ("data", "hash", "algorithm"), ("data", "hash", "value"),
             ("signature",), ("signature", "content"), ("signature", "publicKey"),
             ("signature", "publicKey", "content")]
    for path in draw(st.lists(st.sampled_from(paths), max_size=4)):
        target = spec
        for p in path[:-1]:
            if not isinstance(target, dict) or not isinstance(target.get(p), dict):
                break
            target = target[p]
        else:
            if draw(st.booleans()):
                target.pop(path[-1], None)
            else:
                target[path[-1]] = draw(_field)
    return spec


@settings(max_examples=300, deadline=None)
@given(spec=st.one_of(_json, _specs()), kind=st.sampled_from(["hashedrekord", "rekord", "nope", 3]),
       version=st.one_of(st.just("0.0.1"), _json))
def test_junk_only_raises_entry_errors(spec: Any, kind: Any, version: Any) -> None:
    try:
        entry = parse_entry({"kind": kind, "apiVersion": version, "spec": spec}, insertable_kinds=ENABLED)
    except (InvalidEntry, UnprocessableEntity):
        return
    assert isinstance(entry, HashedRekordV001)
    entry.canonicalize()
    entry.index_keys()


@settings(max_examples=100, deadline=None)
@given(obj=_json)
def test_junk_envelope(obj: Any) -> None:
    with pytest.raises((InvalidEntry, UnprocessableEntity)):
        parse_entry(obj)


# The key of every case below: canonicalize only re-encodes it, it need not sign anything.
_FAST_PATH_KEY = submit(WORKED["proposed_entry"]).public_key


@settings(max_examples=300, deadline=None)
@given(algorithm=st.one_of(st.sampled_from(["sha256", "sha384", "sha512"]), st.text(max_size=8)),
       value=st.one_of(st.text(alphabet="0123456789abcdefABCDEF", max_size=128), st.text(max_size=20)),
       signature=st.binary(max_size=200))
def test_canonical_body_is_rfc8785(algorithm: str, value: str, signature: bytes) -> None:
    """The body canonicalize writes without an encoder is what RFC 8785 writes for the
    same spec, for every field value (hex, text that needs escapes, non-ASCII)."""
    entry = HashedRekordV001(signature, _FAST_PATH_KEY, algorithm, value)  # type: ignore[arg-type]
    spec = {"data": {"hash": {"algorithm": algorithm, "value": value}},
            "signature": {"content": b64(signature),
                          "publicKey": {"content": b64(_FAST_PATH_KEY.canonical_value())}}}
    try:
        want = rfc8785.dumps({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": spec})
    except rfc8785.CanonicalizationError:  # a lone surrogate: the slow path refuses it too
        with pytest.raises(ValueError):
            entry.canonicalize()
        return
    assert entry.canonicalize() == want
