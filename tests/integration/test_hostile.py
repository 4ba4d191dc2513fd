"""The server under attack: the worst requests we know, in flight at once.

Each hostile request is built to cost the server as much as one request can
(bodies near the size limit, thousands of signatures, megabyte keys, deep
nesting, huge numbers).  While they are in flight, /ping and an honest upload
must still be answered promptly: parsing and verification run in the
verification pool, never on the event loop.  Then each limit on its own: the
status, the setting named in the message, and nothing written.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.errors import InvalidEntry, RekorError
from rekor_py.limits import Limits
from rekor_py.log import prepare
from rekor_py.log.prepare import prepare_entry, storable_index_keys
from rekor_py.log.prepared import PreparedEntry
from tests.integration.logserver import (
    RunningLog,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)

# The bound the brief gives "promptly": generous for a 2-core machine that is
# also receiving ~20 MiB of hostile bodies and running PostgreSQL.
PROMPT_S = 2.0
MAX_BODY = Limits().max_body_bytes


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def signed_dsse(statement: dict[str, Any], *, extra_signatures: int = 0) -> dict[str, Any]:
    """A dsse 0.0.1 entry over `statement`, signed by a fresh P-256 key, plus
    `extra_signatures` signatures that verify under no key."""
    key = ec.generate_private_key(ec.SECP256R1())
    payload_type = "application/vnd.in-toto+json"
    payload = json.dumps(statement).encode()
    signature = key.sign(_pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    junk = key.sign(b"something else", ec.ECDSA(hashes.SHA256()))
    envelope = {"payload": b64(payload), "payloadType": payload_type,
                "signatures": [{"sig": b64(signature)}] + [{"sig": b64(junk)}] * extra_signatures}
    return {"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
        "envelope": json.dumps(envelope), "verifiers": [b64(_pem(key))]}}}


def statement(digests: list[str]) -> dict[str, Any]:
    return {"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": f"artifact-{i}", "digest": {"sha256": d}}
                        for i, d in enumerate(digests)],
            "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}}


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def hostile_bodies() -> dict[str, bytes]:
    """A dozen of the most expensive requests we know of, by name."""
    honest = signed_hashedrekord(b"template")
    spec = honest["spec"]
    near_limit = MAX_BODY - 4096
    # PEM "headers" and header continuation lines, 937 KiB of them.
    header_pem = ("-----BEGIN PUBLIC KEY-----\n" + "a: b\n" * 192_000
                  + "\n-----END PUBLIC KEY-----\n")
    continued_pem = ("-----BEGIN PUBLIC KEY-----\na: b\n" + " b\n" * 320_000
                     + "\n-----END PUBLIC KEY-----\n")

    def with_key(pem: str) -> bytes:
        return _json({**honest, "spec": {**spec, "signature": {
            **spec["signature"], "publicKey": {"content": b64(pem.encode())}}}})

    bodies = {
        # ~4 MiB of base64 where a 70-byte signature belongs.
        "huge-signature": _json({**honest, "spec": {**spec, "signature": {
            **spec["signature"], "content": b64(os.urandom(near_limit * 3 // 4 - 1024))}}}),
        "937KiB-pem-headers": with_key(header_pem),
        "937KiB-pem-continuations": with_key(continued_pem),
        # 4,000 signatures for one verifier to try.
        "4000-signature-dsse": _json(signed_dsse(statement(["ab" * 32]),
                                                  extra_signatures=4000)),
        # A statement with 20,000 subjects: 20,000 search keys.
        "20000-subject-dsse": _json(signed_dsse(statement(
            [hashlib.sha256(b"%d" % i).hexdigest() for i in range(20_000)]))),
        # Nesting: a recursive parser's worst case.
        "deep-json": b'{"kind":"hashedrekord","apiVersion":"0.0.1","spec":' + b"[" * 500_000
                     + b"]" * 500_000 + b"}",
        # Numbers whose conversion is quadratic in their length.
        "5000-digit-numbers": _json({**honest, "spec": {**spec, "n": [10 ** 4299] * 400}})
        .replace(b"]", b", " + b"9" * 5000 + b"]"),
        # A megabyte-long kind with a newline (it was logged raw).
        "huge-kind": _json({**honest, "kind": "x\nFORGED LOG LINE " + "y" * (MAX_BODY // 2)}),
        # Near the limit: one long string where a digest belongs.
        "near-limit-string": _json({**honest, "spec": {**spec, "data": {"hash": {
            "algorithm": "sha256", "value": "z" * near_limit}}}}),
    }
    return bodies


# Not 503: twelve requests cannot fill a verification queue of 256.
REJECTED = {400, 413, 422}


@pytest.fixture
async def hostile_log(database_url: str, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningLog]:
    # This process runs the server's event loop; the verification workers are other
    # processes.  An entry parsed here is an entry parsed on the loop: fail loudly
    # (a 500 the status checks catch) rather than measure how long it stalled.
    def parsed_on_the_loop(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("an entry was parsed on the event loop")

    monkeypatch.setattr(prepare, "parse_entry", parsed_on_the_loop)
    # A 1 s deadline: the time an honest entry may wait for a worker that is on
    # a hostile one is bounded by it.
    log = await start_log(log_settings(database_url, tmp_path, verify_deadline_s=1.0,
                                       insertable_kinds=frozenset({"hashedrekord", "dsse"})))
    yield log
    await log.stop()


async def tree_size(s: aiohttp.ClientSession, url: str) -> int:
    async with s.get(f"{url}/api/v1/log") as r:
        return int((await r.json())["treeSize"])


async def post_raw(s: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    async with s.post(f"{url}/api/v1/log/entries", data=io.BytesIO(body),
                      headers={"Content-Type": "application/json"}) as r:
        return r.status, await r.json(content_type=None)


def in_own_thread(coro: Any) -> Any:
    """Await `coro` on an event loop of its own, in a thread.  The server under test
    runs on this test's loop: a client on the same loop could not see it blocked."""
    return asyncio.to_thread(asyncio.run, coro)


async def send_all(url: str, bodies: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    async with aiohttp.ClientSession() as s:
        return list(await asyncio.gather(*[post_raw(s, url, body) for body in bodies]))


async def probe(url: str, delay: float) -> tuple[list[float], list[float]]:
    """After `delay`, five rounds of /ping and an honest upload: their latencies."""
    await asyncio.sleep(delay)
    pings: list[float] = []
    honest: list[float] = []
    async with aiohttp.ClientSession() as s:
        for i in range(5):
            t0 = time.monotonic()
            async with s.get(f"{url}/ping") as r:
                assert r.status == 200
            pings.append(time.monotonic() - t0)
            t0 = time.monotonic()
            status, body, _ = await post_entry(s, url, signed_hashedrekord(b"honest %d" % i))
            assert status == 201, body
            honest.append(time.monotonic() - t0)
    return pings, honest


async def test_loop_answers_while_hostile_requests_are_in_flight(hostile_log: RunningLog) -> None:
    url = hostile_log.url
    bodies = hostile_bodies()
    # Twelve at once: each kind, and the costliest (seconds of CPU each on a
    # parser without limits) twice.
    names = [*bodies, "937KiB-pem-headers", "937KiB-pem-continuations", "20000-subject-dsse"]
    attack = [bodies[name] for name in names]
    async with aiohttp.ClientSession() as s:
        before = await tree_size(s, url)
        # Warm the workers up: the first job waits for their imports.
        assert (await post_entry(s, url, signed_hashedrekord(b"warm-up")))[0] == 201
        # The probe starts once the hostile bodies are on their way or being verified.
        answers, (pings, honest) = await asyncio.gather(
            in_own_thread(send_all(url, attack)), in_own_thread(probe(url, 0.5)))
        after = await tree_size(s, url)
    assert max(pings) < PROMPT_S, pings
    assert max(honest) < PROMPT_S, honest
    statuses = [status for status, _ in answers]
    assert set(statuses) <= REJECTED, list(zip(names, statuses, strict=True))
    assert after == before + 6  # the warm-up and the five honest entries, nothing else


async def test_poisoned_entry_batched_with_an_honest_one(database_url: str,
                                                         tmp_path: Path) -> None:
    """Over HTTP: the NUL never reaches the sequencer.  A search key holding NUL is
    refused in validation with a 400 (logged without it, the entry could not be found
    by it); the honest entry batched with it is logged."""
    # A long batch delay, so that both entries land in one batch.
    log = await start_log(log_settings(database_url, tmp_path, batch_max_delay_ms=200.0,
                                       insertable_kinds=frozenset({"hashedrekord", "dsse"})))
    try:
        async with aiohttp.ClientSession() as s:
            before = await tree_size(s, log.url)
            for bad in ("ab\u0000cd", "\u0000"):
                honest = post_entry(s, log.url, signed_hashedrekord(os.urandom(16)))
                poisoned = post_raw(s, log.url, json.dumps(signed_dsse(statement([bad])))
                                    .encode())
                (status, body, _), (bad_status, bad_body) = await asyncio.gather(honest,
                                                                                  poisoned)
                assert status == 201, body
                assert bad_status == 400, bad_body
                assert "search key" in bad_body["message"], bad_body
                assert "NUL" in bad_body["message"], bad_body
            assert await tree_size(s, log.url) == before + 2
    finally:
        await log.stop()


@pytest.mark.parametrize("key", ["a\x00b", "a\ud800b", "\udfff"])
def test_unstorable_search_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidEntry, match="search key"):
        storable_index_keys(["sha256:ok", key])


async def test_sequencer_isolates_an_entry_postgres_refuses(database_url: str,
                                                            tmp_path: Path) -> None:
    """Below validation: an unstorable entry in a batch fails alone (400); its
    batch-mates are logged.

    Nothing an entry carries is refused by the schema itself any more (bodies are
    bytes, search keys are stored hashed: a NUL in a key once was), so a CHECK
    added here makes PostgreSQL refuse one body with a data exception (22012)."""
    body = b'{"poisoned":1}'
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("ALTER TABLE entries ADD CONSTRAINT ck_test_poison "
                           f"CHECK (CASE WHEN body = '\\x{body.hex()}'::bytea "
                           "THEN 1 / (length(body) - length(body)) = 1 ELSE true END)")
    finally:
        await conn.close()
    log = await start_log(log_settings(database_url, tmp_path, batch_max_delay_ms=200.0))
    try:
        service = log.runtime.service
        honest = [prepare_entry(signed_hashedrekord(os.urandom(16)), frozenset({"hashedrekord"}))
                  for _ in range(5)]
        poisoned = PreparedEntry(body=body, leaf_hash=hashlib.sha256(b"\0" + body).digest(),
                                 kind="hashedrekord", api_version="0.0.1")
        before = (await service.head()).size
        results = await asyncio.gather(*[service.create_entry(e) for e in
                                         honest[:2] + [poisoned] + honest[2:]],
                                       return_exceptions=True)
        assert isinstance(results[2], InvalidEntry), results[2]
        assert not any(isinstance(r, BaseException) for i, r in enumerate(results) if i != 2), \
            results
        assert (await service.head()).size == before + 5
    finally:
        await log.stop()


async def _one(log: RunningLog, body: bytes, headers: dict[str, str] | None = None
               ) -> tuple[int, dict[str, Any], Any]:
    async with aiohttp.ClientSession() as s:
        before = await tree_size(s, log.url)
        async with s.post(f"{log.url}/api/v1/log/entries", data=io.BytesIO(body),
                          headers={"Content-Type": "application/json", **(headers or {})}) as r:
            answer = (r.status, await r.json(content_type=None), r.headers)
        assert await tree_size(s, log.url) == before  # nothing written
    return answer


async def test_body_over_the_limit_is_413(hostile_log: RunningLog) -> None:
    # Declared by Content-Length: refused before it is read.
    status, body, _ = await _one(hostile_log, b"x" * (MAX_BODY + 1))
    assert status == 413 and "max_body_bytes" in body["message"], body

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: refused while read
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"y" * 65536

    async with (aiohttp.ClientSession() as s,
                s.post(f"{hostile_log.url}/api/v1/log/entries", data=chunked(),
                       headers={"Content-Type": "application/json"}) as r):
        assert r.status == 413
        assert "max_body_bytes" in (await r.json())["message"]


@pytest.mark.parametrize(("name", "status", "named"), [
    ("5000-digit-numbers", 400, "max_json_number_chars"),
    ("huge-kind", 422, "invalid kind value"),
    ("deep-json", 400, "max_json_depth"),
])
async def test_each_hostile_request_alone(hostile_log: RunningLog, name: str, status: int,
                                          named: str) -> None:
    got, body, _ = await _one(hostile_log, hostile_bodies()[name])
    assert got == status and named in body["message"], (got, body)
    assert len(body["message"]) < 1000


# Limits raised so that the 20,000-subject dsse gets past the size checks and costs
# real parsing time (the index keys are refused only after the statement is read).
_SLOW: dict[str, Any] = {"max_payload_bytes": 8 * 1024 * 1024}


async def test_verification_deadline(database_url: str, tmp_path: Path) -> None:
    """An entry that takes longer than verify_deadline_s: 400 naming the setting; its
    worker is replaced and the next entry is served."""
    # The parsers refuse a large payload before reading it (max_payload_bytes):
    # raised here, so that a 20,000-subject statement is parsed, for ~0.3 s.
    log = await start_log(log_settings(database_url, tmp_path, verify_deadline_s=0.05,
                                       verify_workers=1, **_SLOW,
                                       insertable_kinds=frozenset({"hashedrekord", "dsse"})))
    try:
        async with aiohttp.ClientSession() as s:
            assert (await post_entry(s, log.url, signed_hashedrekord(b"warm")))[0] == 201
        status, body, _ = await _one(log, hostile_bodies()["20000-subject-dsse"])
        assert status == 400 and "verify_deadline_s" in body["message"], body
        async with aiohttp.ClientSession() as s:
            status, body, _ = await post_entry(s, log.url, signed_hashedrekord(b"after"))
            assert status == 201, body
    finally:
        await log.stop()


async def test_verification_queue_bound(database_url: str, tmp_path: Path) -> None:
    """More entries waiting for verification than max_verify_queue: 503, Retry-After."""
    log = await start_log(log_settings(database_url, tmp_path, max_verify_queue=1,
                                       verify_workers=1, verify_deadline_s=0.5, **_SLOW,
                                       insertable_kinds=frozenset({"hashedrekord", "dsse"})))
    try:
        async with aiohttp.ClientSession() as s:
            slow = hostile_bodies()["20000-subject-dsse"]
            answers = await asyncio.gather(*[_answer(s, log.url, slow) for _ in range(4)])
        busy = [(body, headers) for status, body, headers in answers if status == 503]
        assert busy, [a[:2] for a in answers]
        for body, headers in busy:
            assert "max_verify_queue" in body["message"] and headers["Retry-After"] == "1"
    finally:
        await log.stop()


async def _answer(s: aiohttp.ClientSession, url: str, body: bytes
                  ) -> tuple[int, dict[str, Any], Any]:
    async with s.post(f"{url}/api/v1/log/entries", data=io.BytesIO(body),
                      headers={"Content-Type": "application/json"}) as r:
        return r.status, await r.json(content_type=None), r.headers


async def test_index_key_cap(database_url: str, tmp_path: Path) -> None:
    log = await start_log(log_settings(database_url, tmp_path, **_SLOW,
                                       insertable_kinds=frozenset({"hashedrekord", "dsse"})))
    try:
        status, body, _ = await _one(log, hostile_bodies()["20000-subject-dsse"])
        assert status == 400 and "max_index_keys" in body["message"], body
    finally:
        await log.stop()


async def test_a_verification_worker_that_dies_is_replaced(hostile_log: RunningLog) -> None:
    """SIGKILL (the OOM killer, a crash in C): the pool replaces the worker and serves on."""
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post_entry(s, hostile_log.url, signed_hashedrekord(b"before"))
        assert status == 201
        workers = [p for p in multiprocessing.active_children() if p.name == "rekor-py-verify"]
        assert workers
        for proc in workers:
            os.kill(proc.pid, signal.SIGKILL)
        for i in range(3):
            status, body, _ = await post_entry(s, hostile_log.url,
                                               signed_hashedrekord(b"after %d" % i))
            assert status == 201, body


def test_process_pool_on_uvloop_takes_a_body_at_the_limit() -> None:
    """`serve` runs on uvloop, which makes the pipe non-blocking: a 4 MiB job must
    still reach its worker, and its refusal come back (not a 500)."""
    import uvloop

    from rekor_py.log.verify_pool import ProcessVerifyPool

    async def run() -> tuple[int, str]:
        pool = ProcessVerifyPool(1, Limits())
        await pool.start()
        try:
            await pool.verify((hostile_bodies()["huge-signature"], frozenset({"hashedrekord"}),
                               0))
        except RekorError as e:
            return e.status, e.client_message
        finally:
            await pool.close()
        return 201, "accepted"

    status, message = uvloop.run(run())
    assert status == 400 and "signature" in message, (status, message)
