"""Bad input gets a clear 4xx with Rekor's {"code", "message"} body and writes nothing."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.integration.logserver import RunningLog, log_settings, signed_hashedrekord, start_log


@pytest.fixture(scope="module")
async def small_log(database_url_module: str, tmp_path_factory: pytest.TempPathFactory
                    ) -> AsyncIterator[RunningLog]:
    data_dir = tmp_path_factory.mktemp("bad-input")
    server = await start_log(log_settings(database_url_module, data_dir, max_body_bytes=64 * 1024))
    yield server
    await server.stop()


def _spec(entry: dict[str, Any]) -> dict[str, Any]:
    return entry["spec"]  # type: ignore[no-any-return]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(entry: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = entry
        for p in parents:
            node = node[p]
        node[last] = value
    return apply


def _rsa_sha512(entry: dict[str, Any]) -> None:
    # RSA is allowed only with sha256 (Rekor's default client algorithm policy).
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    artifact = b"policy"
    from cryptography.hazmat.primitives.asymmetric import padding
    sig = key.sign(artifact, padding.PKCS1v15(), hashes.SHA512())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    entry["spec"] = {
        "data": {"hash": {"algorithm": "sha512", "value": hashlib.sha512(artifact).hexdigest()}},
        "signature": {"content": base64.b64encode(sig).decode(),
                      "publicKey": {"content": base64.b64encode(pem).decode()}},
    }


def _der_key(entry: dict[str, Any]) -> None:
    pem = base64.b64decode(entry["spec"]["signature"]["publicKey"]["content"])
    der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    entry["spec"]["signature"]["publicKey"]["content"] = base64.b64encode(der).decode()


def _wrong_key(entry: dict[str, Any]) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    entry["spec"]["signature"]["publicKey"]["content"] = base64.b64encode(other).decode()


# (id, mutation of a valid entry, status, substring of the message)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], int, str]] = [
    ("unknown-kind", _set("kind", "nosuchkind"), 422, 'invalid kind value: "nosuchkind"'),
    ("unknown-version", _set("apiVersion", "9.9.9"), 400, "version '9.9.9' not found"),
    ("bad-base64-signature", _set("spec.signature.content", "not base64!"), 400,
     "error processing entry"),
    ("bad-pem", _set("spec.signature.publicKey.content",
                     base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nxx\n").decode()), 400,
     "error processing entry"),
    ("der-key", _der_key, 400, "error processing entry"),
    ("short-digest", _set("spec.data.hash.value", "ab" * 31), 400, "error processing entry"),
    ("non-hex-digest", _set("spec.data.hash.value", "zz" * 32), 400, "error processing entry"),
    ("signature-does-not-verify", _set("spec.data.hash.value", "00" * 32), 400,
     "error processing entry"),
    ("wrong-key", _wrong_key, 400, "error processing entry"),
    ("disallowed-algorithm", _rsa_sha512, 400, "entry algorithms are not allowed"),
    ("missing-spec", lambda e: e.pop("spec"), 422, "spec"),
    ("spec-not-object", _set("spec", [1, 2]), 400, "error processing entry"),
]


async def _tree_size(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/api/v1/log") as r:
        return int((await r.json())["treeSize"])


@pytest.mark.parametrize("case_id,mutate,status,message", CASES, ids=[c[0] for c in CASES])
async def test_bad_entry_is_rejected_and_nothing_written(
        small_log: RunningLog, case_id: str, mutate: Callable[[dict[str, Any]], None],
        status: int, message: str) -> None:
    entry = copy.deepcopy(signed_hashedrekord(case_id.encode()))
    mutate(entry)
    async with aiohttp.ClientSession() as session:
        before = await _tree_size(session, small_log.url)
        async with session.post(f"{small_log.url}/api/v1/log/entries", json=entry) as r:
            assert r.status == status
            body = await r.json()
        assert body["code"] == status and message in body["message"], body
        assert await _tree_size(session, small_log.url) == before


RAW_CASES = [
    ("malformed-json", b'{"kind": ', "application/json", 400, "malformed JSON"),
    ("empty-body", b"", "application/json", 422, "required"),
    ("not-json-content-type", b"{}", "text/plain", 415, "application/json"),
    ("oversized-body", b'{"a":"' + b"x" * (70 * 1024) + b'"}', "application/json", 413,
     "Request Entity Too Large"),
    ("json-array", b"[]", "application/json", 422, "must be a JSON object"),
    # CPython refuses to make an int of over 4,300 digits: measured as text first.
    ("json-number-over-limit",
     b'{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"n":' + b"1" * 5000 + b"}}",
     "application/json", 400,
     ("malformed JSON: the length of a JSON number in characters is 5000; the limit is 40 "
      "(setting max_json_number_chars, REKOR_PY_MAX_JSON_NUMBER_CHARS)")),
    ("json-too-deep", b"[" * 100 + b"]" * 100, "application/json", 400,
     "the limit is 64 (setting max_json_depth, REKOR_PY_MAX_JSON_DEPTH)"),
]


@pytest.mark.parametrize("case_id,data,ctype,status,message", RAW_CASES,
                         ids=[c[0] for c in RAW_CASES])
async def test_bad_body_is_rejected(small_log: RunningLog, case_id: str, data: bytes,
                                    ctype: str, status: int, message: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{small_log.url}/api/v1/log/entries", data=data,
                                headers={"Content-Type": ctype}) as r:
            assert r.status == status
            body = await r.json()
        assert body["code"] == status and message in body["message"], body


@pytest.mark.parametrize("path,status,message", [
    ("/api/v1/log/entries?logIndex=-1", 422, "logIndex"),
    ("/api/v1/log/entries?logIndex=abc", 422, "logIndex"),
    ("/api/v1/log/entries/" + "g" * 64, 422, "entryUUID"),
    ("/api/v1/log/entries/" + "0" * 80, 400, "invalid entryID"),
    ("/api/v1/log/proof?firstSize=1", 422, "lastSize"),
    ("/api/v1/log/proof?firstSize=5&lastSize=2", 400, "must be less than"),
    ("/api/v1/log/proof?lastSize=999999", 400, "greater than what is currently observable"),
    ("/api/v1/log/proof?lastSize=1&treeID=12x", 400, "invalid tree ID"),
    ("/api/v1/log/publicKey?treeID=1", 400, "no log range found"),
    ("/api/v1/nope", 404, "path /api/v1/nope was not found"),
])
async def test_bad_reads(small_log: RunningLog, path: str, status: int, message: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(small_log.url + path) as r:
        assert r.status == status
        body = await r.json()
    assert body["code"] == status and message in body["message"], body


async def test_retrieve_limits(small_log: RunningLog) -> None:
    async with aiohttp.ClientSession() as session:
        query = {"logIndexes": list(range(6)), "entryUUIDs": ["a" * 64] * 5}
        async with session.post(f"{small_log.url}/api/v1/log/entries/retrieve/", json=query) as r:
            assert r.status == 422
            assert "more than max allowed 10" in (await r.json())["message"]
        async with session.post(f"{small_log.url}/api/v1/log/entries/retrieve",
                                json={"entryUUIDs": ["b" * 64]}) as r:
            assert r.status == 200 and await r.json() == []


@pytest.mark.parametrize("query", [{"email": "a\u0000b@example.com"}, {"subject": "nul\u0000"}])
async def test_search_term_with_nul_finds_nothing(small_log: RunningLog, query: dict[str, str]) -> None:
    # PostgreSQL text cannot hold NUL: such a term matches nothing instead of failing the query.
    async with aiohttp.ClientSession() as session, \
            session.post(f"{small_log.url}/api/v1/index/retrieve", json=query) as r:
        assert r.status == 200, await r.text()
        assert await r.json() == []
