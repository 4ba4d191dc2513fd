"""The log's witnessing against hostile or broken witnesses (test doubles of
adversaries, over real HTTP; the real witness is in tests/interop).

A witness that answers a cosignature by another key, one that is slower than
the timeout, one that claims a tree larger than the log's, one that is down:
each is recorded for what it is, nothing it sent is stored or served, and the
write path does not wait for any of them (fail-open).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.api.keys import PUBLISHER
from rekor_py.log.checkpoint import parse_checkpoint
from rekor_py.witness.cosignature import CosignatureSigner
from tests.integration.logserver import (
    RunningLog,
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)

Behaviour = Callable[[str], Awaitable[web.Response]]


class FakeWitness:
    """A witness whose answer is chosen by the test; it cosigns with `signer`."""

    def __init__(self, name: str, behaviour: str) -> None:
        self.signer = CosignatureSigner(name, ed25519.Ed25519PrivateKey.generate())
        self.behaviour = behaviour
        self.requests = 0
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _add(self, request: web.Request) -> web.Response:
        self.requests += 1
        text = await request.text()
        note = text.split("\n\n", 1)[1]
        body = parse_checkpoint(note).checkpoint.body()
        if self.behaviour == "impostor":  # our name, another key
            other = CosignatureSigner(self.signer.verifier.name,
                                      ed25519.Ed25519PrivateKey.generate())
            return web.Response(text=other.cosign(body))
        if self.behaviour == "tampered":  # our key, over another body
            return web.Response(text=self.signer.cosign(body.replace(b"\n", b"\n\n", 1)))
        if self.behaviour == "slow":
            await asyncio.sleep(3)
        if self.behaviour == "ahead":
            return web.Response(status=409, text="1000000\n", content_type="text/x.tlog.size")
        return web.Response(text=self.signer.cosign(body))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/add-checkpoint", self._add)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def witnesses() -> AsyncIterator[dict[str, FakeWitness]]:
    fakes = {b: FakeWitness(f"witness.test/{b}", b)
             for b in ("honest", "impostor", "tampered", "slow", "ahead")}
    for f in fakes.values():
        await f.start()
    yield fakes
    for f in fakes.values():
        await f.stop()


async def _log(database_url: str, tmp_path: Path, witnesses: dict[str, FakeWitness],
               quorum: str, policy_name: str = "policy", **overrides: object) -> RunningLog:
    lines = [f"witness {name} {w.signer.verifier.vkey} {w.url}" for name, w in witnesses.items()]
    down = CosignatureSigner("witness.test/down", ed25519.Ed25519PrivateKey.generate())
    lines.append(f"witness down {down.verifier.vkey} http://127.0.0.1:{free_port()}")
    policy = tmp_path / policy_name
    policy.write_text("\n".join([*lines, f"quorum {quorum}", ""]))
    settings = log_settings(database_url, tmp_path, witness_policy=policy,
                            witness_interval_ms=20, witness_timeout_s=0.3, rekor_v2=False,
                            **overrides)
    return await start_log(settings)


async def test_each_broken_witness_is_seen_for_what_it_is(
        database_url: str, tmp_path: Path, witnesses: dict[str, FakeWitness]) -> None:
    log = await _log(database_url, tmp_path, witnesses, "honest")
    try:
        publisher = log.runner.app[PUBLISHER]
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            for i in range(3):
                status, _, _ = await post_entry(session, log.url,
                                                signed_hashedrekord(b"w%d" % i))
                assert status == 201
            # Fail-open: the slow witness (3 s) never held up a write.
            assert time.monotonic() - started < 2
            deadline = time.monotonic() + 10
            while publisher.rounds == 0 or publisher.results[("slow", "timeout")] == 0:
                assert time.monotonic() < deadline, dict(publisher.results)
                await asyncio.sleep(0.05)
            async with session.get(f"{log.url}/checkpoint") as r:
                text = await r.text()
        results = dict(publisher.results)
        assert results[("honest", "ok")] >= 1
        assert results[("impostor", "bad-cosignature")] >= 1
        assert results[("tampered", "bad-cosignature")] >= 1
        assert results[("slow", "timeout")] >= 1
        assert results[("ahead", "ahead")] >= 1
        assert results[("down", "down")] >= 1
        assert not any(kind == "ok" for (name, kind) in results if name != "honest")
        # Served: the honest cosignature, nothing from the others.
        body = parse_checkpoint(text).checkpoint.body()
        assert witnesses["honest"].signer.verifier.find(text, body) is not None
        assert sum(line.startswith("\u2014 witness.test/") for line in text.splitlines()) == 1
    finally:
        await log.stop()


async def test_fail_open_publishes_without_the_quorum(
        database_url: str, tmp_path: Path, witnesses: dict[str, FakeWitness]) -> None:
    """The quorum is a witness that is down: heads are published all the same, marked
    without quorum; fail-closed, the checkpoint path has nothing to serve yet."""
    log = await _log(database_url, tmp_path, witnesses, "down")
    try:
        async with aiohttp.ClientSession() as session:
            status, _, _ = await post_entry(session, log.url, signed_hashedrekord(b"open"))
            assert status == 201
            publisher = log.runner.app[PUBLISHER]
            deadline = time.monotonic() + 10
            while (await publisher.published(log.runtime.service.tree_id)) is None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            head = await publisher.published(log.runtime.service.tree_id)
            assert head is not None and not head.quorum and head.size == 1
            async with session.get(f"{log.url}/checkpoint") as r:
                assert r.status == 200
    finally:
        await log.stop()
    closed = await _log(database_url, tmp_path, witnesses, "down", "policy-closed",
                        witness_fail_closed=True, witness_wait_s=0.5)
    try:
        async with aiohttp.ClientSession() as session:
            status, body, headers = await post_entry(session, closed.url,
                                                     signed_hashedrekord(b"closed"))
            assert status == 503 and body["code"] == 503 and headers["Retry-After"] == "1"
            async with session.get(f"{closed.url}/checkpoint") as r:
                assert r.status == 404  # no checkpoint has the quorum
    finally:
        await closed.stop()
