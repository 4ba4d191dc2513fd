"""Reads that fetch the head with what they prove from in one statement (log/service.py):
the same answers as the snapshot reads they replace, against a real PostgreSQL.

Entries by index, consistency proofs and hash tiles are compared with the
snapshot path (entries), with proofs over the leaf list (merkle.trees), and
with the stored tiles, on a log grown in-process with synthetic entries: when
the service's last view of the tree is current, when the log grew behind its
back (the guessed plan is stale), and from a service that has read nothing yet.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rekor_py import merkle
from rekor_py.errors import EntryNotFound, InvalidProofRequest
from rekor_py.log.entries import entry_id, parse_entry_id
from rekor_py.log.proofs import TileCache
from rekor_py.log.service import LogService
from rekor_py.log.set import verify_set
from rekor_py.log.signer import LogVerifier
from rekor_py.log.tile_path import TileID
from rekor_py.storage import log_store
from tests.integration.logserver import RunningLog, log_settings, start_log
from tests.integration.synthetic_log import append_synthetic, synthetic_body


@pytest.fixture
async def log(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    server = await start_log(log_settings(database_url, tmp_path))
    yield server
    await server.stop()


async def _grow(log: RunningLog, start: int, end: int) -> list[bytes]:
    svc = log.runtime.service
    bodies = [synthetic_body(n) for n in range(start, end)]
    await append_synthetic(log.runtime.pool, svc.tree_id, svc.signer,
                           log.settings.checkpoint_name, bodies)
    return [merkle.leaf_hash(b) for b in bodies]


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """A list that grows by one at each call of log_store.<name> (which still runs)."""
    calls: list[int] = []
    real = getattr(log_store, name)

    async def counting(*args: Any) -> Any:
        calls.append(1)
        return await real(*args)

    monkeypatch.setattr(log_store, name, counting)
    return calls


def _without_set(entry: Any) -> tuple[dict[str, Any], str]:
    (uuid, value), = entry.model().model_dump(mode="json", exclude_none=True).items()
    sig = value["verification"].pop("signedEntryTimestamp")
    return {uuid: value}, sig


async def _same_as_snapshot(svc: LogService, index: int, leaves: list[bytes]) -> None:
    fast = await svc.get_by_index(index)
    slow = await svc._get_by_index_snapshot(index)
    fast_value, fast_set = _without_set(fast)
    slow_value, _ = _without_set(slow)
    assert fast_value == slow_value  # byte for byte but the SET, which ECDSA randomises
    value = fast.model()[fast.uuid]
    proof = value.verification.inclusionProof
    assert proof.treeSize == len(leaves)
    assert [bytes.fromhex(h) for h in proof.hashes] == merkle.inclusion_proof(
        leaves, index, len(leaves))
    verify_set(LogVerifier.from_pem(svc.public_key_pem()), base64.b64decode(fast_set),
               base64.b64decode(value.body), value.integratedTime, value.logID, index)


async def test_entries_by_index_match_the_snapshot_read(log: RunningLog,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    svc = log.runtime.service
    leaves = await _grow(log, 0, 600)
    await svc.shards()  # the service has seen the head: reads take one statement
    calls = _count_calls(monkeypatch, "read_trees_with")
    for index in (0, 1, 255, 256, 257, 511, 512, 599):
        calls.clear()
        await _same_as_snapshot(svc, index, leaves)
        assert calls == [1]  # the fast read: one statement (the snapshot read adds none)
    # The log grows behind the service's back: its guess of the size is stale.
    leaves += await _grow(log, 600, 1100)
    for index in (599, 600, 1023, 1024, 1099, 3):
        await _same_as_snapshot(svc, index, leaves)
    for missing in (1100, 5000, (1 << 63) - 1, 10**19 - 1):
        with pytest.raises(EntryNotFound):
            await svc.get_by_index(missing)


async def test_a_fresh_service_reads_and_learns_the_head(log: RunningLog) -> None:
    leaves = await _grow(log, 0, 300)
    runtime = log.runtime
    fresh = LogService(runtime.pool, runtime.service.tree_id, runtime.service.signer, None,
                       runtime.service.checkpoint_name)
    await _same_as_snapshot(fresh, 299, leaves)  # the snapshot path, then the fast one
    await _same_as_snapshot(fresh, 0, leaves)


async def test_consistency_proofs_from_one_statement(log: RunningLog) -> None:
    svc = log.runtime.service
    leaves = await _grow(log, 0, 700)
    fresh = LogService(log.runtime.pool, svc.tree_id, svc.signer, None, svc.checkpoint_name)
    pairs = [(1, 700), (255, 256), (256, 700), (300, 513), (699, 700), (700, 700)]
    for service in (svc, fresh):
        for first, last in pairs:
            answer = await service.consistency(first, last)
            assert answer.rootHash == merkle.root_hash(leaves).hex()
            assert [bytes.fromhex(h) for h in answer.hashes] == merkle.consistency_proof(
                leaves, first, last)
    leaves += await _grow(log, 700, 900)  # stale head: the tiles it fetched are short
    answer = await svc.consistency(650, 900)
    assert [bytes.fromhex(h) for h in answer.hashes] == merkle.consistency_proof(leaves, 650, 900)
    for first, last in ((1, 901), (1, 10**19 - 1)):
        with pytest.raises(InvalidProofRequest):
            await svc.consistency(first, last)
    with pytest.raises(InvalidProofRequest):
        await svc.consistency(1, 2, tree_id=12345)


async def test_hash_tiles_from_one_statement(log: RunningLog) -> None:
    svc = log.runtime.service
    await _grow(log, 0, 70_000)
    async with log.runtime.pool.acquire() as conn:
        stored = await log_store.read_tiles(conn, svc.tree_id, [(0, 0), (0, 273), (1, 1), (2, 0)])
    cases = [(TileID(0, 0, 256), stored[(0, 0)]),
             (TileID(0, 0, 10), stored[(0, 0)][:320]),
             (TileID(0, 273, 112), stored[(0, 273)]),  # 70,000 = 273 * 256 + 112
             (TileID(1, 1, 17), stored[(1, 1)]),
             (TileID(2, 0, 1), stored[(2, 0)])]
    for tile, want in cases:
        assert await svc.read_tile(tile) == (svc.tree_id, want)
    for beyond in (TileID(0, 273, 113), TileID(0, 274, 1), TileID(3, 0, 1),
                   TileID(0, (1 << 64) - 1, 256)):
        assert await svc.read_tile(beyond) == (svc.tree_id, None)


async def test_reads_arriving_together_share_a_statement(log: RunningLog,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent reads by index, consistency proofs and tiles go out as a few batched
    statements (log/read_batch.py), and each gets its own entry, proof and tile."""
    svc = log.runtime.service
    leaves = await _grow(log, 0, 3000)
    await svc.shards()
    async with log.runtime.pool.acquire() as conn:
        stored = await log_store.read_tiles(conn, svc.tree_id, [(0, 3), (0, 11)])
    calls: list[tuple[list[int], list[tuple[int, int]]]] = []
    real = log_store.read_trees_with

    async def counting(conn: Any, api_major: int, tree_id: int, leaf_indexes: Any,
                       tiles: Any) -> Any:
        calls.append((list(leaf_indexes), list(tiles)))
        return await real(conn, api_major, tree_id, leaf_indexes, tiles)

    monkeypatch.setattr(log_store, "read_trees_with", counting)
    indexes = [(i * 7919) % 3000 for i in range(60)]
    reads = [svc.get_by_index(i) for i in indexes]
    proofs = [svc.consistency(f, 3000) for f in (1, 700, 2999)]
    tiles = [svc.read_tile(TileID(0, 3, 256)), svc.read_tile(TileID(0, 11, 100))]
    results = await asyncio.gather(*reads, *proofs, *tiles,
                                   svc.get_by_index(3000), return_exceptions=True)
    assert len(calls) < 10, calls  # 66 reads; at most max_in_flight go out alone
    assert any(len(leaves_) > 1 for leaves_, _ in calls)
    entries, rest = results[:60], results[60:]
    for index, entry in zip(indexes, entries, strict=True):
        assert not isinstance(entry, BaseException), entry
        value = entry.model()[entry.uuid]
        assert value.logIndex == index
        assert base64.b64decode(value.body) == synthetic_body(index)
        proof = value.verification.inclusionProof
        assert [bytes.fromhex(h) for h in proof.hashes] == merkle.inclusion_proof(
            leaves, index, 3000)
    for first, answer in zip((1, 700, 2999), rest[:3], strict=True):
        assert not isinstance(answer, BaseException), answer
        assert [bytes.fromhex(h) for h in answer.hashes] == merkle.consistency_proof(
            leaves, first, 3000)
    assert rest[3] == (svc.tree_id, stored[(0, 3)])
    assert rest[4] == (svc.tree_id, stored[(0, 11)][:100 * merkle.HASH_SIZE])
    assert isinstance(rest[5], EntryNotFound)


async def test_a_failed_batch_fails_its_reads_and_not_the_next(
        log: RunningLog, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = log.runtime.service
    leaves = await _grow(log, 0, 50)
    await svc.shards()
    real = log_store.read_trees_with
    failures = [ConnectionResetError("the database went away")]

    async def failing_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args)

    monkeypatch.setattr(log_store, "read_trees_with", failing_once)
    first = await asyncio.gather(*(svc.get_by_index(i) for i in range(10)),
                                 return_exceptions=True)
    # One statement failed; the reads it carried fail with its error, the rest (a
    # second statement, if the batcher split them) succeed.
    assert any(isinstance(r, ConnectionResetError) for r in first)
    for r in first:
        assert isinstance(r, ConnectionResetError) or r.model()[r.uuid].logIndex in range(10)
    for _ in range(4):  # every statement's slot came back: none of these waits forever
        again = await asyncio.wait_for(
            asyncio.gather(*(svc.get_by_index(i) for i in range(10))), timeout=20)
        for i, entry in enumerate(again):
            hashes = entry.model()[entry.uuid].verification.inclusionProof.hashes
            assert [bytes.fromhex(h) for h in hashes] == merkle.inclusion_proof(leaves, i, 50)


async def test_warming_reads_the_full_tiles_into_the_proof_cache(log: RunningLog) -> None:
    """A fresh service warmed at start proves any entry without reading a tile (those
    of the partial right edge aside); a cache too small to hold them all is filled
    without evicting, top level first, then the newest level-0 tiles."""
    svc = log.runtime.service
    await _grow(log, 0, 70_000)  # 273 full level-0 tiles, 1 full level-1 tile
    fresh = LogService(log.runtime.pool, svc.tree_id, svc.signer, None, svc.checkpoint_name)
    assert await fresh.warm_tiles() == 274
    def full_missing(cache: TileCache, index: int) -> list[tuple[int, int]]:
        # 69,888 = 273 * 256: the tiles after the full ones are partial, read on demand
        plan = merkle.inclusion_plan(index, 70_000)
        return [k for k in cache.missing([plan]) if k[1] < 273 >> (8 * k[0])]

    for index in (0, 4097, 35_000, 69_887):
        assert full_missing(fresh.tiles_of(svc.tree_id), index) == [], index

    small = LogService(log.runtime.pool, svc.tree_id, svc.signer, None, svc.checkpoint_name)
    small._tile_caches[svc.tree_id] = TileCache(max_bytes=200 * 16_608)
    added = await small.warm_tiles()
    cache = small.tiles_of(svc.tree_id)
    assert 0 < added < 274 and cache.room >= 0
    assert full_missing(cache, 69_887) == []  # the newest
    assert full_missing(cache, 0) == [(0, 0)]  # the oldest not, but level 1 (first) is


async def test_reads_by_uuid_take_one_statement(log: RunningLog,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A read by 64- or 80-hex ID reads the trees and the entry in one statement (no
    transaction) and answers what the read by index answers; the log growing behind
    the service's back changes nothing."""
    svc = log.runtime.service
    leaves = await _grow(log, 0, 600)
    calls = _count_calls(monkeypatch, "read_trees_with_leaf_hashes")
    for index in (0, 255, 256, 599, 300):
        if index == 300:
            leaves += await _grow(log, 600, 900)
        calls.clear()
        for raw in (leaves[index].hex(), entry_id(svc.tree_id, leaves[index])):
            by_id = await svc.get_by_id(parse_entry_id(raw))
            by_index = await svc.get_by_index(index)
            assert _without_set(by_id)[0] == _without_set(by_index)[0]
            proof = by_id.model()[by_id.uuid].verification.inclusionProof
            assert [bytes.fromhex(h) for h in proof.hashes] == merkle.inclusion_proof(
                leaves, index, len(leaves))
        assert calls == [1, 1]
    with pytest.raises(EntryNotFound):
        await svc.get_by_id(parse_entry_id(merkle.leaf_hash(b"never logged").hex()))
    with pytest.raises(EntryNotFound):  # a tree of no shard of this log
        await svc.get_by_id(parse_entry_id(entry_id(svc.tree_id + 1, leaves[0])))
