"""Three `rekor-py serve` processes on one database take uploads at once (issue 6).

They share the database, the data dir (one log key) and the checkpoint name, and
start at the same moment (so migrations, key creation and tree creation race
too).  A bounded load generator spreads uploads over all three while polling
every process's head; afterwards every acknowledged entry must be present
exactly once at its index, indexes must run 0..N-1, every checkpoint any
process served must be a prefix of the final tree (consistency proofs verified
with rekor_py.merkle), and fsck must be clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from rekor_py.log.signer import LogSigner

from .load import Ledger, ServeProcess, fetch_log_info, run_load, verify_log
from .logserver import free_port, signed_hashedrekord


@pytest.fixture
def writers(database_url: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    procs = [ServeProcess(database_url, tmp_path, free_port()) for _ in range(3)]
    yield procs
    for proc in procs:
        proc.stop()


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
    finally:
        for proc in procs:
            proc.stop()
