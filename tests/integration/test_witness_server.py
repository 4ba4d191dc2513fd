"""`rekor-py witness` (c2sp.org/tlog-witness) against real checkpoints of a real log.

The checkpoints and consistency proofs come from a rekor-py log over HTTP (its
tile API's C2SP checkpoint, signed by its Ed25519 note key); the witness keeps
its state in the `witness` schema of the same PostgreSQL database.  Every
answer of the spec is exercised, the state survives a restart, racing requests
never roll it back, and of a log that shows two histories only one is cosigned.
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import SIG_ED25519, NoteVerifier
from rekor_py.log.checkpoint import parse_checkpoint
from rekor_py.storage.db import create_pool
from rekor_py.storage.migrate import migrate
from rekor_py.witness.cosignature import CosignatureSigner
from rekor_py.witness.server import Witness, witness_app
from rekor_py.witness.store import WitnessStore
from tests.integration.conftest import scratch_database
from tests.integration.logserver import (
    RunningLog,
    free_port,
    log_settings,
    post_entry,
    signed_hashedrekord,
    start_log,
)


@dataclass
class RunningWitness:
    url: str
    signer: CosignatureSigner
    runner: web.AppRunner
    pool: object

    async def post(self, old: int, proof: list[bytes], note: str) -> tuple[int, str, str]:
        body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        async with aiohttp.ClientSession() as s, \
                s.post(f"{self.url}/add-checkpoint", data=(body + "\n" + note).encode()) as r:
            return r.status, r.content_type, await r.text()


async def _start_witness(database_url: str, logs: dict[str, list[NoteVerifier]],
                         key: ed25519.Ed25519PrivateKey | None = None) -> RunningWitness:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    store = WitnessStore(pool)
    await store.create()
    signer = CosignatureSigner("witness.test/ours", key or ed25519.Ed25519PrivateKey.generate())
    runner = web.AppRunner(witness_app(Witness(signer, logs, store)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return RunningWitness(f"http://127.0.0.1:{port}", signer, runner, pool)


async def _stop(w: RunningWitness) -> None:
    await w.runner.cleanup()
    await w.pool.close()  # type: ignore[attr-defined]


async def _checkpoint(log: RunningLog) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"{log.url}/checkpoint") as r:
        return await r.text()


async def _note_key(log: RunningLog) -> NoteVerifier:
    async with aiohttp.ClientSession() as s, s.get(f"{log.url}/checkpoint.vkeys") as r:
        keys = [NoteVerifier.from_vkey(v) for v in (await r.text()).split()]
    return next(k for k in keys if k.sig_type == SIG_ED25519)


async def _proof(log: RunningLog, first: int, last: int) -> list[bytes]:
    async with aiohttp.ClientSession() as s, s.get(
            f"{log.url}/api/v1/log/proof?firstSize={first}&lastSize={last}") as r:
        return [bytes.fromhex(h) for h in (await r.json())["hashes"]]


async def _grow(log: RunningLog, n: int, tag: str) -> None:
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            status, _, _ = await post_entry(s, log.url, signed_hashedrekord(f"{tag}{i}".encode()))
            assert status == 201


@pytest.fixture
async def log(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    running = await start_log(log_settings(database_url, tmp_path / "log", rekor_v2=False))
    yield running
    await running.stop()


async def test_every_answer_of_the_protocol(log: RunningLog, database_url: str) -> None:
    key = await _note_key(log)
    witness = await _start_witness(database_url, {key.name: [key]})
    try:
        await _grow(log, 3, "a")
        note3 = await _checkpoint(log)
        body3 = parse_checkpoint(note3).checkpoint.body()
        # Malformed requests: 400.
        for bad in ("old 01", "old -1", "nope 0", "old 0 "):
            async with aiohttp.ClientSession() as s, s.post(
                    f"{witness.url}/add-checkpoint", data=f"{bad}\n\n{note3}") as r:
                assert r.status == 400, bad
        assert (await witness.post(0, [b"x" * 31], note3))[0] == 400  # not a hash
        assert (await witness.post(4, [], note3))[0] == 400  # old > size
        # A log it does not know: 404; a known log's note altered: 403.
        stranger = await _start_witness(database_url, {})
        try:
            assert (await stranger.post(0, [], note3))[0] == 404
        finally:
            await _stop(stranger)
        forged = note3.replace("\n3\n", "\n4\n", 1)
        assert (await witness.post(0, [], forged))[0] == 403
        # A proof from size 0: 422.  First contact: cosigned.
        assert (await witness.post(0, [bytes(32)], note3))[0] == 422
        status, _, line = await witness.post(0, [], note3)
        assert status == 200
        found = witness.signer.verifier.find(line, body3)
        assert found is not None and line == found.line
        # A request that arrives in pieces is read whole.
        reader, writer = await asyncio.open_connection("127.0.0.1", int(witness.url.rsplit(":", 1)[1]))
        request = f"old 3\n\n{note3}".encode()
        writer.write(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(request))
        for i in range(0, len(request), 40):
            writer.write(request[i:i + 40])
            await writer.drain()
            await asyncio.sleep(0.01)
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        # The same checkpoint again is cosigned again; a stale old size is a 409 with ours.
        assert (await witness.post(3, [], note3))[0] == 200
        status, content_type, text = await witness.post(0, [], note3)
        assert (status, content_type, text) == (409, "text/x.tlog.size", "3\n")
        # Growth with a valid proof: cosigned; with a bad one: 422.
        await _grow(log, 4, "b")
        note7 = await _checkpoint(log)
        proof = await _proof(log, 3, 7)
        bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert (await witness.post(3, bad, note7))[0] == 422
        assert (await witness.post(3, proof, note7))[0] == 200
        # Persisted before the answer: a fresh witness on the same database knows 7.
        again = await _start_witness(database_url, {key.name: [key]})
        try:
            assert (await again.post(3, proof, note7))[1:] == ("text/x.tlog.size", "7\n")
        finally:
            await _stop(again)
    finally:
        await _stop(witness)


async def test_racing_requests_never_roll_the_state_back(log: RunningLog,
                                                         database_url: str) -> None:
    key = await _note_key(log)
    witness = await _start_witness(database_url, {key.name: [key]})
    try:
        await _grow(log, 2, "r")
        note2 = await _checkpoint(log)
        assert (await witness.post(0, [], note2))[0] == 200
        await _grow(log, 1, "s")
        note3, proof3 = await _checkpoint(log), await _proof(log, 2, 3)
        await _grow(log, 2, "t")
        note5, proof5 = await _checkpoint(log), await _proof(log, 2, 5)
        first, second = await asyncio.gather(witness.post(2, proof5, note5),
                                             witness.post(2, proof3, note3))
        assert sorted([first[0], second[0]]) == [200, 409]
        conn = await asyncpg.connect(database_url)
        try:
            size = await conn.fetchval("SELECT size FROM witness.logs")
        finally:
            await conn.close()
        winner = 5 if first[0] == 200 else 3
        assert size == winner
    finally:
        await _stop(witness)


async def test_a_fork_gets_one_branch_cosigned(postgres_admin_dsn: str, tmp_path: Path,
                                               database_url: str) -> None:
    """Two databases, one data dir (the same keys and origin): two histories.  The
    witness cosigns the first; the second is refused at the same size (409) and
    beyond it (422: its proof does not start from the root the witness holds)."""
    data_dir = tmp_path / "shared"
    async with scratch_database(postgres_admin_dsn) as other:
        await migrate(other)
        a = await start_log(log_settings(database_url, data_dir, rekor_v2=False,
                                         hostname="fork.test"))
        try:
            key = await _note_key(a)
            witness = await _start_witness(database_url, {key.name: [key]})
            await _grow(a, 3, "a")
            assert (await witness.post(0, [], await _checkpoint(a)))[0] == 200
        finally:
            await a.stop()
        b = await start_log(log_settings(other, data_dir, rekor_v2=False, hostname="fork.test"))
        try:
            await _grow(b, 3, "b")
            status, _, text = await witness.post(3, [], await _checkpoint(b))
            assert status == 409 and "fork" in text
            await _grow(b, 2, "c")
            status, _, _ = await witness.post(3, await _proof(b, 3, 5), await _checkpoint(b))
            assert status == 422
        finally:
            await b.stop()
            await _stop(witness)


async def test_the_command_makes_its_key_and_serves(tmp_path: Path, database_url: str,
                                                    log: RunningLog) -> None:
    key = await _note_key(log)
    (tmp_path / "logs.policy").write_text(f"log {key.vkey}\nquorum none\n")
    base = [sys.executable, "-m", "rekor_py", "witness", "--name", "witness.test/cli",
            "--logs", str(tmp_path / "logs.policy"), "--data-dir", str(tmp_path / "w")]
    printed = (await asyncio.to_thread(
        subprocess.run, [*base, "--print-vkey"], capture_output=True, text=True, timeout=60,
        check=True)).stdout.strip()
    assert printed.startswith("witness.test/cli+")
    assert stat.S_IMODE(os.stat(tmp_path / "w" / "witness-key-ed25519.pem").st_mode) == 0o600
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *base, "--listen", f"127.0.0.1:{port}", "--database-url", database_url,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _grow(log, 2, "cli")
        note = await _checkpoint(log)
        for _ in range(200):
            try:
                async with aiohttp.ClientSession() as s, s.post(
                        f"http://127.0.0.1:{port}/add-checkpoint",
                        data=f"old 0\n\n{note}") as r:
                    status, text = r.status, await r.text()
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        assert status == 200, text
        from rekor_py.witness.cosignature import CosignatureVerifier

        verifier = CosignatureVerifier.from_vkey(printed)
        assert verifier.find(text, parse_checkpoint(note).checkpoint.body()) is not None
    finally:
        proc.terminate()
        await proc.wait()
