"""rekord 0.0.1 with x509: Rekor's vectors, openssl-made signatures, and a rejection table.

The other formats (pgp, ssh, minisign) go through the same code path; their
own vectors and rejections live with the formats in tests/unit/pki and in
tests/integration/test_entry_kinds.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rekor_py.errors import InvalidEntry, RekorError
from rekor_py.pki.x509 import X509PublicKey
from rekor_py.types import parse_entry
from rekor_py.types.base import leaf_hash
from rekor_py.types.rekord.v0_0_1 import RekordV001
from tests.tools.entries import DELETE, with_changes
from tests.tools.openssl import OpensslKey, openssl_key

VECTORS = Path(__file__).parents[2] / "vectors" / "types" / "rekord" / "0.0.1"
ENABLED = frozenset({"rekord"})
# Rekor's x509 fixtures: <name>.sig, <name>.pem (key), <name>.txt (artifact); see SOURCE.md.
X509_VECTORS = ["cli", "hello_world", "file1"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def proposed(signature: bytes, key: bytes, artifact: bytes, pki_format: str = "x509",
             supplied_hash: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"content": b64(artifact)}
    if supplied_hash is not None:
        data["hash"] = {"algorithm": "sha256", "value": supplied_hash}
    return {"kind": "rekord", "apiVersion": "0.0.1",
            "spec": {"signature": {"format": pki_format, "content": b64(signature),
                                   "publicKey": {"content": b64(key)}},
                     "data": data}}


def expected_body(signature: bytes, canonical_key: bytes, artifact: bytes) -> bytes:
    """Rekor's canonical form (docs/rekor-compat.md#rekord), built independently of the
    entry type."""
    spec = {"data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(artifact).hexdigest()}},
            "signature": {"content": b64(signature), "format": "x509",
                          "publicKey": {"content": b64(canonical_key)}}}
    return json.dumps({"apiVersion": "0.0.1", "kind": "rekord", "spec": spec},
                      sort_keys=True, separators=(",", ":")).encode()


def submit(entry: Any) -> RekordV001:
    parsed = parse_entry(entry, insertable_kinds=ENABLED)
    assert isinstance(parsed, RekordV001)
    return parsed


@pytest.mark.parametrize("name", X509_VECTORS)
def test_rekor_x509_vectors(name: str) -> None:
    sig, key, artifact = ((VECTORS / "x509" / f"{name}.{ext}").read_bytes() for ext in ("sig", "pem", "txt"))
    entry = submit(proposed(sig, key, artifact))
    canonical_key = X509PublicKey.from_bytes(key).canonical_value()
    assert entry.canonicalize() == expected_body(sig, canonical_key, artifact)
    assert entry.index_keys() == [hashlib.sha256(canonical_key).hexdigest(),
                                  f"sha256:{hashlib.sha256(artifact).hexdigest()}"]
    assert entry.artifact_hash() == f"sha256:{hashlib.sha256(artifact).hexdigest()}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OpensslKey]:
    workdir = tmp_path_factory.mktemp("openssl")
    return {kind: openssl_key(kind, workdir) for kind in ("p256", "p384", "rsa2048", "ed25519")}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("artifact") / "release.tar"
    path.write_bytes(b"rekor-py release artifact\n" * 100)
    return path


@pytest.mark.parametrize("kind", ["p256", "p384", "rsa2048", "ed25519"])
def test_openssl_signatures_verify(keys: dict[str, OpensslKey], artifact: Path, kind: str) -> None:
    key = keys[kind]
    sig = key.sign(artifact)
    content = artifact.read_bytes()
    entry = submit(proposed(sig, key.public_pem, content))
    assert entry.canonicalize() == expected_body(sig, key.public_pem, content)
    # A supplied lowercase hash is checked, and does not change the leaf.
    with_hash = submit(proposed(sig, key.public_pem, content, supplied_hash=hashlib.sha256(content).hexdigest()))
    assert with_hash.canonicalize() == entry.canonicalize()


def test_certificate_email_is_an_index_key(keys: dict[str, OpensslKey], artifact: Path, tmp_path: Path) -> None:
    key = keys["p256"]
    cert = key.self_signed_cert("Builder@Example.com", tmp_path)
    entry = submit(proposed(key.sign(artifact), cert, artifact.read_bytes()))
    canonical = X509PublicKey.from_bytes(cert).canonical_value()
    assert entry.index_keys() == [hashlib.sha256(canonical).hexdigest(), "builder@example.com",
                                  f"sha256:{hashlib.sha256(artifact.read_bytes()).hexdigest()}"]
    assert leaf_hash(entry.canonicalize()) == hashlib.sha256(b"\x00" + entry.canonicalize()).digest()


def _mutations(keys: dict[str, OpensslKey], artifact: Path) -> list[tuple[str, dict[str, Any], str]]:
    content = artifact.read_bytes()
    sig = keys["p256"].sign(artifact)
    good = proposed(sig, keys["p256"].public_pem, content)
    digest = hashlib.sha256(content).hexdigest()

    def edit(path: str, value: Any) -> dict[str, Any]:
        return with_changes(good, {f"spec.{path}": value})

    return [
        ("wrong-key", proposed(sig, keys["rsa2048"].public_pem, content),
         "crypto/rsa: verification error"),
        ("tampered-artifact", proposed(sig, keys["p256"].public_pem, content + b"!"),
         "invalid signature when validating ASN.1 encoded signature"),
        ("truncated-signature", proposed(sig[:33], keys["p256"].public_pem, content),
         "ecdsa: Invalid IEEE_P1363 encoded bytes"),
        ("garbage-signature", proposed(b"\x01" * 64, keys["p256"].public_pem, content),
         "invalid signature when validating IEEE_P1363 encoded signature"),
        ("upper-case-hash", proposed(sig, keys["p256"].public_pem, content, supplied_hash=digest.upper()),
         f"SHA mismatch: {digest} != {digest.upper()}"),
        ("other-hash", proposed(sig, keys["p256"].public_pem, content, supplied_hash="ab" * 32),
         f"SHA mismatch: {digest} != {'ab' * 32}"),
        ("short-hash", proposed(sig, keys["p256"].public_pem, content, supplied_hash="abc"),
         "invalid value for hash"),
        ("sha512-hash", edit("data.hash", {"algorithm": "sha512", "value": "ab" * 64}),
         "validation failure list:\ndata.hash.algorithm in body should be one of [sha256]"),
        ("hash-without-value", edit("data.hash", {"algorithm": "sha256"}),
         "validation failure list:\ndata.hash.value in body is required"),
        ("no-content", edit("data.content", DELETE), "missing data content"),
        ("no-data", edit("data", DELETE), "missing data"),
        ("data-not-object", edit("data", "x"), "missing data"),
        ("bad-base64-content", edit("data.content", "not base64!"),
         "failed parsing base64 data for data content: illegal base64 data"),
        ("no-signature", edit("signature", DELETE), "validation failure list:\nsignature in body is required"),
        ("no-format", edit("signature.format", DELETE),
         "validation failure list:\nsignature.format in body is required"),
        ("format-tuf", edit("signature.format", "tuf"),
         "validation failure list:\nsignature.format in body should be one of [pgp minisign x509 ssh]"),
        ("format-not-string", edit("signature.format", 7),
         "validation failure list:\nsignature.format in body is required"),
        ("no-public-key", edit("signature.publicKey", DELETE),
         "validation failure list:\nsignature.publicKey in body is required"),
        ("empty-signature", edit("signature.content", ""), "missing signature content"),
        ("empty-key", edit("signature.publicKey.content", ""), "missing public key content"),
        ("der-key", proposed(sig, base64.b64decode(b"".join(keys["p256"].public_pem.splitlines()[1:-1])), content),
         "invalid public key: failure decoding PEM"),
        ("key-of-other-format", proposed(sig, b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHB0 me@example.com", content),
         "invalid public key: failure decoding PEM"),
    ]


MUTATION_NAMES = [
    "wrong-key", "tampered-artifact", "truncated-signature", "garbage-signature", "upper-case-hash",
    "other-hash", "short-hash", "sha512-hash", "hash-without-value", "no-content", "no-data",
    "data-not-object", "bad-base64-content", "no-signature", "no-format", "format-tuf",
    "format-not-string", "no-public-key", "empty-signature", "empty-key", "der-key", "key-of-other-format",
]


@pytest.mark.parametrize("name", MUTATION_NAMES)
def test_rejections(keys: dict[str, OpensslKey], artifact: Path, name: str) -> None:
    table = {n: (entry, message) for n, entry, message in _mutations(keys, artifact)}
    assert sorted(table) == sorted(MUTATION_NAMES)
    entry, message = table[name]
    with pytest.raises(InvalidEntry) as e:
        parse_entry(entry, insertable_kinds=ENABLED)
    assert e.value.status == 400
    assert e.value.client_message == f"error processing entry: {message}"


def test_not_insertable_when_disabled(keys: dict[str, OpensslKey], artifact: Path) -> None:
    entry = proposed(keys["p256"].sign(artifact), keys["p256"].public_pem, artifact.read_bytes())
    with pytest.raises(RekorError) as e:
        parse_entry(entry, insertable_kinds=frozenset({"hashedrekord"}))
    assert e.value.client_message == (
        "error processing entry: entry kind 'rekord' is not enabled for submission on this server"
    )
    # Search (retrieve by proposed entry) ignores the allow-list, as Rekor does.
    assert isinstance(parse_entry(entry), RekordV001)


# ---- Rekor's pgp rekord entries ----------------------------------------------------------


def _pgp_vector(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / "pgp" / name).read_text())
    return loaded


def test_url_entry_is_refused_and_inline_content_is_accepted() -> None:
    # The server never fetches URLs (removed from Rekor in 2022): the URL form is
    # refused, and the same entry with its artifact inline verifies.
    with pytest.raises(InvalidEntry) as e:
        parse_entry(_pgp_vector("rekor-url.json"))
    assert e.value.client_message == "error processing entry: missing data content"
    entry = _pgp_vector("rekor-url.json")
    artifact = (VECTORS / "pgp" / "test_file.txt").read_bytes()
    entry["spec"]["data"] = {"content": b64(artifact), "hash": entry["spec"]["data"]["hash"]}
    parsed = submit(entry)
    assert parsed.pki_format == "pgp"
    assert parsed.artifact_hash() == f"sha256:{hashlib.sha256(artifact).hexdigest()}"
    # A binary signature is stored armored (docs/rekor-compat.md#rekord): the CRC line, no
    # trailing newline.
    stored = parsed.signature.canonical_value()
    assert stored.startswith(b"-----BEGIN PGP SIGNATURE-----\n\n")
    assert stored.endswith(b"\n-----END PGP SIGNATURE-----") and b"\n=" in stored
    body = json.loads(parsed.canonicalize())
    assert "content" not in body["spec"]["data"]  # the artifact is never stored
    assert base64.b64decode(body["spec"]["signature"]["content"]) == stored


def test_canonical_rekor_vector_keys_and_email() -> None:
    entry = submit(_pgp_vector("canonical_rekor.json"))
    key = entry.public_key.canonical_value()
    assert key.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n") and not key.endswith(b"\n")
    assert entry.index_keys() == [hashlib.sha256(key).hexdigest(), "lhinds@protonmail.com",
                                  "sha256:45c7b11fcbf07dec1694adecd8c5b85770a12a6c8dfdcf2580a2db0c47c31779"]
    # The canonical form is a fixed point: its own bytes parse to the same leaf.
    again = _pgp_vector("canonical_rekor.json")
    spec = json.loads(entry.canonicalize())["spec"]
    again["spec"]["signature"] = spec["signature"]
    assert submit(again).canonicalize() == entry.canonicalize()
