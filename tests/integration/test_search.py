"""POST /api/v1/index/retrieve over real HTTP on a real PostgreSQL
(docs/rekor-compat.md#api-search-index).

Four entries share keys and hashes so each criterion and both operators have
something to tell apart; a table checks each rejected query's status and message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from rekor_py.api.index import HASH_PATTERN
from tests.integration.logserver import RunningLog, log_settings, post_entry, start_log

EMAIL = "Alice@Example.com"
URI = "https://github.com/owner/repo/.github/workflows/build.yml@refs/heads/main"


def make_certificate(key: ec.EllipticCurvePrivateKey, email: str, uri: str) -> bytes:
    """A self-signed PEM certificate with an email and a URI SAN (Fulcio-like leaf)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rekor-py test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.RFC822Name(email), x509.UniformResourceIdentifier(uri)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def _proposal(algorithm: str, digest: bytes, signature: bytes, key_pem: bytes) -> dict[str, Any]:
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": algorithm, "value": digest.hex()}},
        "signature": {"content": base64.b64encode(signature).decode(),
                      "publicKey": {"content": base64.b64encode(key_pem).decode()}}}}


@dataclass
class Corpus:
    log: RunningLog
    ids: dict[str, str]  # name -> 80-hex entry ID
    p256_pem: bytes
    cert_pem: bytes
    sha256_a1: str
    sha384_a3: str


@pytest.fixture(scope="module")
async def corpus(database_url_module: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Corpus]:
    log = await start_log(log_settings(database_url_module, tmp_path_factory.mktemp("search")))
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert_pem = make_certificate(p384, EMAIL, URI)
    a1, a2, a3 = b"artifact one", b"artifact two", b"artifact three"
    proposals = {
        # A and B share a key; A and D share an artifact; C is a certificate, sha384.
        "A": _proposal("sha256", hashlib.sha256(a1).digest(),
                       p256.sign(a1, ec.ECDSA(hashes.SHA256())), _pem(p256)),
        "B": _proposal("sha256", hashlib.sha256(a2).digest(),
                       p256.sign(a2, ec.ECDSA(hashes.SHA256())), _pem(p256)),
        "C": _proposal("sha384", hashlib.sha384(a3).digest(),
                       p384.sign(a3, ec.ECDSA(hashes.SHA384())), cert_pem),
        "D": _proposal("sha256", hashlib.sha256(a1).digest(),
                       rsa_key.sign(a1, padding.PKCS1v15(), hashes.SHA256()), _pem(rsa_key)),
    }
    ids = {}
    async with aiohttp.ClientSession() as s:
        for name, proposed in proposals.items():  # in order: log order is A, B, C, D
            status, body, _ = await post_entry(s, log.url, proposed)
            assert status == 201, body
            ids[name] = next(iter(body))
    yield Corpus(log, ids, _pem(p256), cert_pem, hashlib.sha256(a1).hexdigest(),
                 hashlib.sha384(a3).hexdigest())
    await log.stop()


async def _search(url: str, query: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, \
            s.post(f"{url}/api/v1/index/retrieve", json=query) as r:
        return r.status, await r.json(content_type=None)


def _key(pem: bytes, fmt: str = "x509") -> dict[str, str]:
    return {"format": fmt, "content": base64.b64encode(pem).decode()}


# ---- what each criterion finds --------------------------------------------------------


@pytest.mark.parametrize("query, want", [
    (lambda c: {"hash": "sha256:" + c.sha256_a1}, "AD"),
    (lambda c: {"hash": c.sha256_a1}, "AD"),                        # prefix from length
    (lambda c: {"hash": "sha256:" + c.sha256_a1.upper()}, "AD"),    # keys are lowercase
    # sha384 is not searchable in Rekor (docs/rekor-compat.md#trap-index-best-effort).
    (lambda c: {"hash": "sha384:" + c.sha384_a3}, "C"),
    (lambda c: {"hash": c.sha384_a3.upper()}, "C"),
    (lambda c: {"publicKey": _key(c.p256_pem)}, "AB"),
    (lambda c: {"publicKey": _key(c.cert_pem)}, "C"),
    (lambda c: {"email": EMAIL}, "C"),
    (lambda c: {"email": EMAIL.lower()}, "C"),
    (lambda c: {"subject": URI.upper()}, "C"),
    (lambda c: {"subject": EMAIL}, "C"),                            # email SANs are subjects
    (lambda c: {"hash": c.sha256_a1, "publicKey": _key(c.p256_pem)}, "ABD"),  # or by default
    (lambda c: {"hash": c.sha256_a1, "publicKey": _key(c.p256_pem), "operator": "or"}, "ABD"),
    (lambda c: {"hash": c.sha256_a1, "publicKey": _key(c.p256_pem), "operator": "and"}, "A"),
    (lambda c: {"hash": c.sha256_a1, "email": EMAIL, "operator": "and"}, ""),
    (lambda c: {"email": EMAIL, "subject": URI, "operator": "and"}, "C"),
    (lambda c: {"hash": "sha256:" + "0" * 64}, ""),
    (lambda c: {"email": "nobody@example.com", "operator": "and"}, ""),
    (lambda c: {}, ""),
    (lambda c: {"operator": "and"}, ""),
    (lambda c: {"hash": "", "email": ""}, ""),                     # empty strings are absent
])
async def test_search_finds(corpus: Corpus, query: Any, want: str) -> None:
    status, found = await _search(corpus.log.url, query(corpus))
    assert status == 200
    assert found == [corpus.ids[name] for name in want]  # log order, no duplicates


async def test_found_ids_resolve_to_their_entries(corpus: Corpus) -> None:
    _, found = await _search(corpus.log.url, {"publicKey": _key(corpus.p256_pem)})
    async with aiohttp.ClientSession() as s:
        for entry_id in found:
            async with s.get(f"{corpus.log.url}/api/v1/log/entries/{entry_id}") as r:
                assert r.status == 200
                assert list(await r.json()) == [entry_id]


async def test_search_accepts_a_pem_with_headers_and_odd_wrapping(corpus: Corpus) -> None:
    # The key is canonicalized before hashing (docs/rekor-compat.md#x509), as it was when stored.
    lines = corpus.p256_pem.decode().splitlines()
    odd = "\n".join([lines[0], "Comment: hi", "", "".join(lines[1:-1]), lines[-1]]) + "\n\n"
    status, found = await _search(corpus.log.url, {"publicKey": _key(odd.encode())})
    assert (status, found) == (200, [corpus.ids["A"], corpus.ids["B"]])


# ---- rejected queries -----------------------------------------------------------------


@pytest.mark.parametrize("query, status, message", [
    ({"hash": "sha256:abc"}, 422, f"hash in body should match '{HASH_PATTERN}'"),
    ({"hash": "sha384:" + "a" * 64}, 422, f"hash in body should match '{HASH_PATTERN}'"),
    ({"hash": "md5:" + "a" * 32}, 422, f"hash in body should match '{HASH_PATTERN}'"),
    ({"hash": "SHA256:" + "a" * 64}, 422, f"hash in body should match '{HASH_PATTERN}'"),
    ({"hash": "g" * 64}, 422, f"hash in body should match '{HASH_PATTERN}'"),
    ({"hash": 12}, 422, "hash in body must be of type string"),
    ({"email": "not-an-email"}, 422, 'email in body must be of type email: "not-an-email"'),
    ({"email": "a b@example.com"}, 422, 'email in body must be of type email: "a b@example.com"'),
    ({"email": "Alice <a@example.com>"}, 422,
     'email in body must be of type email: "Alice <a@example.com>"'),
    ({"subject": ""}, 422, "subject in body should be at least 1 chars long"),
    ({"subject": "x" * 513}, 422, "subject in body should be at most 512 chars long"),
    ({"operator": "xor"}, 422, "operator in body should be one of [and or]"),
    ({"publicKey": "pem"}, 422, "publicKey in body must be of type object"),
    ({"publicKey": {"content": "AA=="}}, 422, "publicKey.format in body is required"),
    ({"publicKey": {"format": "gpg", "content": "AA=="}}, 422,
     "publicKey.format in body should be one of [pgp x509 minisign ssh tuf]"),
    ({"publicKey": {"format": "tuf", "content": "AA=="}}, 400,
     "the PKI format requested is not supported by this server"),
    ({"publicKey": {"format": "pgp", "content": "AA=="}}, 400,
     "public key provided could not be parsed"),
    ({"publicKey": {"format": "ssh", "content": "AA=="}}, 400,
     "public key provided could not be parsed"),
    ({"publicKey": {"format": "minisign", "content": "AA=="}}, 400,
     "public key provided could not be parsed"),
    ({"publicKey": {"format": "x509", "content": "AA=="}}, 400,
     "public key provided could not be parsed"),
    ({"publicKey": {"format": "x509"}}, 400, "public key provided could not be parsed"),
    # A refusal by an input limit names the limit after Rekor's message.
    ({"publicKey": {"format": "x509", "content": base64.b64encode(b"x" * 300_000).decode()}}, 400,
     ("public key provided could not be parsed: the public key size in bytes is 300000; the limit is 262144 "
      "(setting max_key_bytes, REKOR_PY_MAX_KEY_BYTES)")),
    ({"publicKey": {"format": "x509", "content": "not base64!"}}, 400,
     "publicKey.content in body must be base64"),
    ([], 422, "body must be a SearchIndex object"),
])
async def test_rejected_queries(corpus: Corpus, query: Any, status: int, message: str) -> None:
    assert await _search(corpus.log.url, query) == (status, {"code": status, "message": message})


async def test_der_key_is_not_parsed(corpus: Corpus) -> None:
    # x509 keys must be PEM (docs/rekor-compat.md#trap-pem-only): a DER key is "could not be parsed".
    der = serialization.load_pem_public_key(corpus.p256_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    status, body = await _search(corpus.log.url, {"publicKey": _key(der)})
    assert (status, body["message"]) == (400, "public key provided could not be parsed")


async def test_malformed_bodies(corpus: Corpus) -> None:
    async with aiohttp.ClientSession() as s:
        url = f"{corpus.log.url}/api/v1/index/retrieve"
        async with s.post(url, data=b"{", headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
        async with s.post(url, data=b"{}") as r:  # not application/json
            assert r.status == 415
        async with s.get(url) as r:
            assert r.status == 405
