"""Three `rekor-py serve` processes on one database take uploads at once.

They share the database, the data dir (one log key) and the checkpoint name, and
start at the same moment (so migrations, key creation and tree creation race
too).  A bounded load generator spreads uploads over all three while polling
every process's head; afterwards every acknowledged entry must be present
exactly once at its index, indexes must run 0..N-1, every checkpoint any
process served must be a prefix of the final tree (consistency proofs verified
with rekor_py.merkle), and fsck must be clean.

Slow clients are concurrent clients too: while two dozen connections trickle
their bodies (or stop after the headers), other uploads must go through at
once, and the slow ones must be cut off with 408 after the server's body timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from rekor_py.app import BODY_TIMEOUT_MESSAGE
from rekor_py.log.signer import LogSigner

from .load import Ledger, ServeProcess, fetch_log_info, run_load, verify_log
from .logserver import free_port, signed_hashedrekord


async def test_three_writers_build_one_tree(database_url: str, writers: list[ServeProcess],
                                            tmp_path: Path) -> None:
    # Simultaneous first starts: one schema, one key file and one tree must come out.
    await asyncio.gather(*[asyncio.to_thread(w.start) for w in writers])
    ledger = Ledger()
    await run_load([w.url for w in writers], ledger, seconds=6, max_requests=2500,
                   concurrency=12, tag="writers")
    print("concurrent writers:", ledger.summary())
    # Nothing may fail here: no process died and the database stayed up.
    assert set(ledger.statuses) == {"201"}, ledger.statuses
    assert {a.url for a in ledger.acks} == {w.url for w in writers}
    assert len(ledger.acks) >= 300  # enough that the batches of three processes interleave
    verifier = LogSigner.load_or_create(tmp_path / "signing-key.pem").verifier
    facts = await verify_log(database_url, writers[0].url, ledger, verifier)
    assert facts.size == len(ledger.acks)
    # Each process now serves the same head (each one read it, none assumed it).
    async with aiohttp.ClientSession() as session:
        heads = {(info["treeSize"], info["rootHash"])
                 for w in writers if (info := await fetch_log_info(session, w.url)) is not None}
    assert len(heads) == 1 and heads.pop()[0] == facts.size


async def test_writers_with_different_names_sign_one_origin(database_url: str,
                                                            tmp_path: Path) -> None:
    """Regression (checkpoint-origin-per-port): each writer signed its own host:port as
    the origin, so one tree carried several names and fsck failed on `checkpoint_origin`
    whenever the last batch came from a process other than the tree's creator."""
    procs = [ServeProcess(database_url, tmp_path, free_port(), hostname=f"writer-{i}.test")
             for i in range(2)]
    try:
        for proc in procs:
            proc.start()  # in order: writer-0 creates the tree and names it
        ledger = Ledger()
        await run_load([p.url for p in procs], ledger, seconds=2, max_requests=200,
                       concurrency=4, tag="names")
        assert {a.url for a in ledger.acks} == {p.url for p in procs}
        # The last batch must come from the second writer, whose own name differs.
        async with aiohttp.ClientSession() as session:
            for i in range(3):
                async with session.post(f"{procs[1].url}/api/v1/log/entries",
                                        json=signed_hashedrekord(f"last-{i}".encode())) as r:
                    assert r.status == 201
        verifier = LogSigner.load_or_create(tmp_path / "signing-key.pem").verifier
        await verify_log(database_url, procs[1].url, ledger, verifier)  # one origin, fsck clean
        origins = {text.split("\n")[0] for _, _, text in ledger.checkpoints}
        assert origins == {f"writer-0.test - {int(ledger.acks[0].entry_uuid[:16], 16)}"}
        assert "signing with that name" in procs[1].log_path.read_text()
        # The C2SP checkpoint (tile API) carries the tree's name too, from every writer.
        async with aiohttp.ClientSession() as session:
            notes = []
            for proc in procs:
                async with session.get(f"{proc.url}/checkpoint") as r:
                    assert r.status == 200
                    notes.append(await r.text())
        assert {note.split("\n")[0] for note in notes} == {"writer-0.test"}
    finally:
        for proc in procs:
            proc.stop()


# ---- slow clients ------------------------------------------------------------------------

SLOW_CLIENTS = 24
REQUEST_TIMEOUT_S = 2.0
TIMEOUT_MESSAGE = BODY_TIMEOUT_MESSAGE


@dataclass
class SlowResult:
    answer: bytes  # what the server sent before the connection ended
    seconds: float  # from just before the headers were sent until the connection ended


async def _slow_upload(port: int, trickle: bool) -> SlowResult:
    """Send a POST's headers announcing 4000 bytes, then a byte every 0.2 s (trickle)
    or nothing (a client that never finishes), until the server ends the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Before the headers leave: the server's timer cannot start earlier than this
    # (timed after drain(), a fast server had already started it: 1.993 s was seen).
    started = time.monotonic()
    writer.write(b"POST /api/v1/log/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{")
    await writer.drain()

    async def dribble() -> None:
        with contextlib.suppress(ConnectionError):
            while trickle:
                await asyncio.sleep(0.2)
                writer.write(b" ")
                await writer.drain()

    sender = asyncio.create_task(dribble())
    answer = b""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S + 15):  # bounded even if never cut off
            while chunk := await reader.read(4096):
                answer += chunk
    except ConnectionError:
        pass  # a reset after the answer (the client kept sending) ends it as well
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        writer.close()
    return SlowResult(answer, time.monotonic() - started)


async def test_slow_clients_do_not_stall_uploads(database_url: str, tmp_path: Path) -> None:
    server = ServeProcess(database_url, tmp_path, free_port(),
                          env={"REKOR_PY_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S)})
    try:
        await asyncio.to_thread(server.start)
        slow = [asyncio.create_task(_slow_upload(server.port, trickle=i % 2 == 0))
                for i in range(SLOW_CLIENTS)]
        await asyncio.sleep(0.2)  # every slow client holds its connection now
        latencies = []
        async with aiohttp.ClientSession() as session:
            for i in range(12):  # normal uploads while the slow ones hang on
                started = time.monotonic()
                async with session.post(f"{server.url}/api/v1/log/entries",
                                        json=signed_hashedrekord(f"fast-{i}".encode())) as r:
                    assert r.status == 201
                latencies.append(time.monotonic() - started)
        assert not any(t.done() for t in slow), "a slow client was cut off too early"
        assert max(latencies) < REQUEST_TIMEOUT_S / 2, latencies
        results = await asyncio.gather(*slow)
        for result in results:
            # Cut off by the server's timeout, not before it and not much after.
            assert REQUEST_TIMEOUT_S <= result.seconds < REQUEST_TIMEOUT_S + 3, result
            if result.answer:
                head, _, body = result.answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 408 "), result.answer
                assert json.loads(body) == {"code": 408, "message": TIMEOUT_MESSAGE}
        # Clients that sent nothing more certainly read the whole answer.
        assert all(r.answer for r in results[1::2])
        print(f"slow clients: {SLOW_CLIENTS} cut off after "
              f"{min(r.seconds for r in results):.2f}-{max(r.seconds for r in results):.2f} s; "
              f"uploads meanwhile took at most {max(latencies) * 1000:.0f} ms")
    finally:
        server.stop()
