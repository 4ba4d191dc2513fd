"""The timestamp routes over real HTTP: what sigstore-js, rfc3161-client and openssl send.

The TSA needs no database: a bare aiohttp app with the project's error middleware and
the timestamp routes, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import rfc3161_client
from aiohttp import web
from asn1crypto import tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rfc3161_client import TimestampRequestBuilder, VerifierBuilder

from rekor_py.api.problems import error_middleware
from rekor_py.api.timestamp import MAX_JSON_BYTES, MAX_QUERY_BYTES, add_timestamp_routes
from rekor_py.app import body_deadline, body_limit
from rekor_py.tsa import TimestampAuthority

_MESSAGE = b"signature bytes of a bundle"
_QUERY = {"Content-Type": "application/timestamp-query"}


@pytest.fixture
async def tsa_url(tmp_path: Path) -> AsyncIterator[str]:
    # The server's own middlewares: the body deadline reads the body before the handler.
    app = web.Application(middlewares=[error_middleware, body_limit(4 << 20),
                                       body_deadline(30)])
    add_timestamp_routes(app, TimestampAuthority.load_or_create(tmp_path))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def _chain(session: aiohttp.ClientSession, url: str) -> list[x509.Certificate]:
    async with session.get(f"{url}/api/v1/timestamp/certchain") as r:
        assert r.status == 200
        assert r.content_type == "application/pem-certificate-chain"
        return x509.load_pem_x509_certificates(await r.read())


async def _post(session: aiohttp.ClientSession, url: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, str, bytes]:
    async with session.post(f"{url}/api/v1/timestamp", data=body, headers=headers) as r:
        return r.status, r.content_type, await r.read()


def _verifier(chain: list[x509.Certificate], nonce: int | None) -> rfc3161_client.Verifier:
    builder = VerifierBuilder().tsa_certificate(chain[0]).add_root_certificate(chain[-1])
    return (builder.nonce(nonce) if nonce is not None else builder).build()


async def test_der_request(tsa_url: str) -> None:
    request = (TimestampRequestBuilder().data(_MESSAGE).cert_request(cert_request=True)
               .nonce(nonce=True).build())
    async with aiohttp.ClientSession() as session:
        chain = await _chain(session, tsa_url)
        status, content_type, body = await _post(session, tsa_url, request.as_bytes(), _QUERY)
    assert (status, content_type) == (200, "application/timestamp-reply")
    assert len(chain) == 2 and chain[0].issuer == chain[1].subject
    response = rfc3161_client.decode_timestamp_response(body)
    assert _verifier(chain, request.nonce).verify_message(response, _MESSAGE)


async def test_json_request_as_sigstore_js_sends_it(tsa_url: str) -> None:
    nonce = 6_004_318_337_512_341  # sigstore-js: a random JavaScript number
    body = json.dumps({"artifactHash": base64.b64encode(hashlib.sha256(_MESSAGE).digest())
                       .decode(), "hashAlgorithm": "sha256", "certificates": True,
                       "nonce": nonce}).encode()
    async with aiohttp.ClientSession() as session:
        chain = await _chain(session, tsa_url)
        status, content_type, reply = await _post(
            session, tsa_url, body, {"Content-Type": "application/json; charset=utf-8"})
    assert (status, content_type) == (200, "application/timestamp-reply")
    response = rfc3161_client.decode_timestamp_response(reply)
    assert len(response.signed_data.certificates) == 1
    assert _verifier(chain, nonce).verify_message(response, _MESSAGE)
    with pytest.raises(rfc3161_client.VerificationError):
        _verifier(chain, nonce).verify_message(response, _MESSAGE + b"!")


async def _openssl(*args: str, cwd: Path) -> tuple[int, bytes]:
    """Run openssl without blocking the event loop the server under test runs on."""
    proc = await asyncio.create_subprocess_exec(
        "openssl", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out


async def test_openssl_round_trip(tsa_url: str, tmp_path: Path) -> None:
    data = tmp_path / "artifact"
    data.write_bytes(_MESSAGE)
    code, query = await _openssl("ts", "-query", "-data", "artifact", "-sha256", "-cert",
                                 cwd=tmp_path)
    assert code == 0
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{tsa_url}/api/v1/timestamp/certchain") as r:
            pem = await r.read()
        status, _, reply = await _post(session, tsa_url, query, _QUERY)
    assert status == 200
    leaf, root = (c.public_bytes(serialization.Encoding.PEM)
                  for c in x509.load_pem_x509_certificates(pem))
    (tmp_path / "leaf.pem").write_bytes(leaf)
    (tmp_path / "root.pem").write_bytes(root)
    (tmp_path / "req.tsq").write_bytes(query)
    (tmp_path / "resp.der").write_bytes(reply)
    code, out = await _openssl("ts", "-verify", "-in", "resp.der", "-queryfile", "req.tsq",
                               "-CAfile", "root.pem", "-untrusted", "leaf.pem", cwd=tmp_path)
    assert code == 0 and b"Verification: OK" in out


def _sha1_query() -> bytes:
    return bytes(tsp.TimeStampReq({"version": 1, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha1"},
        "hashed_message": hashlib.sha1(_MESSAGE).digest()}}).dump())


@pytest.mark.parametrize(("body", "headers", "status", "message"), [
    (b"\x30\x80garbage", _QUERY, 400, "not a DER TimeStampReq"),
    (b"", _QUERY, 400, "not a DER TimeStampReq"),
    (json.dumps({"artifactHash": base64.b64encode(b"\0" * 20).decode(),
                 "hashAlgorithm": "sha1"}).encode(),
     {"Content-Type": "application/json"}, 400, "Weak hash algorithm"),
    (json.dumps({"artifactHash": base64.b64encode(b"\0" * 31).decode(),
                 "hashAlgorithm": "sha256"}).encode(),
     {"Content-Type": "application/json"}, 400, "incorrect length"),
    (b"x" * (MAX_QUERY_BYTES + 1), _QUERY, 413, "over 65536 bytes"),
    (b" " * (MAX_JSON_BYTES + 1), {"Content-Type": "application/json"}, 413, "over 1024"),
    (b"hello", {"Content-Type": "text/plain"}, 415, "unsupported media type"),
    (b"hello", {}, 415, "unsupported media type"),
])
async def test_refusals_have_the_error_body(tsa_url: str, body: bytes,
                                            headers: dict[str, str], status: int,
                                            message: str) -> None:
    async with aiohttp.ClientSession() as session:
        got, content_type, reply = await _post(session, tsa_url, body, headers)
    assert (got, content_type) == (status, "application/json")
    error = json.loads(reply)
    assert error["code"] == status and message in error["message"]


async def test_sha1_der_request_is_refused(tsa_url: str) -> None:
    query = _sha1_query()
    async with aiohttp.ClientSession() as session:
        status, _, reply = await _post(session, tsa_url, query, _QUERY)
    assert status == 400 and "Weak hash algorithm" in json.loads(reply)["message"]


async def test_other_methods(tsa_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{tsa_url}/api/v1/timestamp") as r:
            assert r.status == 405 and (await r.json())["code"] == 405
        async with session.post(f"{tsa_url}/api/v1/timestamp/certchain") as r:
            assert r.status == 405
