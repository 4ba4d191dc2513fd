"""The sequencer proves a committed batch at once (Sequencer.prover, LogService's tile
cache): every acknowledged entry's answer carries an audit path made that way, equal
to the one a request would read on its own, and a prover that gets it wrong is caught
(the path is verified against the head) and costs only the shortcut."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rekor_py import merkle
from rekor_py.log.prepare import prepare_entry
from rekor_py.log.prepared import PreparedEntry
from rekor_py.log.proofs import inclusion_proof, tile_reader
from rekor_py.log.sequencer import Prover
from rekor_py.log.tree_head import TreeHead
from rekor_py.storage import log_store
from tests.integration.logserver import RunningLog, log_settings, signed_hashedrekord, start_log


def _entries(n: int, tag: str) -> list[PreparedEntry]:
    return [prepare_entry(signed_hashedrekord(f"{tag} {i}".encode()), frozenset({"hashedrekord"}))
            for i in range(n)]


async def test_batch_proofs_equal_per_request_proofs(running_log: RunningLog) -> None:
    service = running_log.runtime.service
    assert service.sequencer is not None
    for round_ in range(3):  # batches on top of batches: tiles fill and roll over
        entries = _entries(120, f"round {round_}")
        done = await asyncio.gather(*(service.sequencer.submit(e) for e in entries))
        for entry, integrated in zip(entries, done, strict=True):
            assert integrated.proof is not None, "the batch was not proved at once"
            merkle.verify_inclusion(entry.leaf_hash, integrated.leaf_index,
                                    integrated.head.size, integrated.proof,
                                    integrated.head.root_hash)
            async with service.connection() as conn:
                alone = await inclusion_proof(tile_reader(conn, service.tree_id),
                                              service.tiles, integrated.leaf_index, entry.leaf_hash,
                                              integrated.head.size, integrated.head.root_hash)
            assert integrated.proof == alone


async def test_a_wrong_batch_proof_is_caught(running_log: RunningLog,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A prover whose paths do not verify (a stale or corrupt tile cache) leaves each
    request to read its own: the answers still carry correct proofs."""
    service = running_log.runtime.service
    assert service.sequencer is not None
    right = service.sequencer.prover
    assert right is not None

    async def wrong(leaves: list[tuple[int, bytes]], head: TreeHead) -> list[list[bytes]]:
        # Another leaf hash for each entry: the paths cannot verify for these leaves.
        return await right([(index, bytes(32)) for index, _ in leaves], head)

    service.sequencer.prover = wrong
    entry = _entries(1, "wrong prover")[0]
    answer = await service.create_entry(entry)
    body = next(iter(answer.model().root.values()))
    proof = body.verification.inclusionProof
    merkle.verify_inclusion(entry.leaf_hash, proof.logIndex, proof.treeSize,
                            [bytes.fromhex(h) for h in proof.hashes],
                            bytes.fromhex(proof.rootHash))
    assert "proofs for a batch of 1 entries failed" in caplog.text


async def test_a_batch_after_another_writers_is_proved_from_the_cache(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers on one tree (two server processes): the tiles a writer reads to
    reload its right edge go to its tile cache, so its batch's own writes extend them
    and its proofs read no tile."""
    proving = False
    reads_while_proving = 0
    read_tiles = log_store.read_tiles

    async def counted(*args: Any) -> dict[tuple[int, int], bytes]:
        nonlocal reads_while_proving
        reads_while_proving += proving
        return await read_tiles(*args)

    monkeypatch.setattr(log_store, "read_tiles", counted)
    first = await start_log(log_settings(database_url, tmp_path))
    second = await start_log(log_settings(database_url, tmp_path))
    try:
        for service in (first.runtime.service, second.runtime.service):
            assert service.sequencer is not None and service.sequencer.prover is not None
            prove = service.sequencer.prover

            async def watched(leaves: list[tuple[int, bytes]], head: TreeHead,
                              prove: Prover = prove) -> list[list[bytes]]:
                nonlocal proving
                proving = True
                try:
                    return await prove(leaves, head)
                finally:
                    proving = False

            service.sequencer.prover = watched
        for round_ in range(3):
            for running in (first, second):  # each batch lands on the other's appends
                sequencer = running.runtime.service.sequencer
                assert sequencer is not None
                entries = _entries(40, f"{round_} {running.url}")
                done = await asyncio.gather(*(sequencer.submit(e) for e in entries))
                assert all(d.proof is not None for d in done)
        assert reads_while_proving == 0
    finally:
        await second.stop()
        await first.stop()
