"""storage/batch_write.py against a real PostgreSQL: the sequencer's two statements
under the tree lock do what log_store's one-round-trip-each functions do, with the
same checks, and nothing of a failed batch stays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.merkle import TileWrite
from rekor_py.storage import batch_write as bw
from rekor_py.storage import log_store as ls

from .test_storage import OTHER_TREE, TREE, entry, h


@pytest.fixture
async def tree_conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database holding one empty active tree TREE."""
    conn = await asyncpg.connect(database_url)
    try:
        await ls.create_tree(conn, TREE, "rekor.example/1", merkle.EMPTY_ROOT, "cp0\n")
        yield conn
    finally:
        await conn.close()


_KEYS = ({"sha256:aa", "a@example.com"}, set(), {"sha256:aa"}, {"b@example.com"})


def _rows(start: int, n: int, time: int = 1_700_000_000) -> list[ls.EntryRow]:
    return [ls.EntryRow(**{**vars(entry(TREE, i)), "integrated_time": time,
                           "search_keys": tuple(_KEYS[i % len(_KEYS)])})
            for i in range(start, start + n)]


async def _append(conn: asyncpg.Connection, edge: merkle.RightEdge, rows: list[ls.EntryRow]
                  ) -> merkle.RightEdge:
    async with conn.transaction():
        tree = await ls.lock_tree(conn, TREE)
        result = merkle.append_leaves(edge, [r.leaf_hash for r in rows])
        await bw.append_batch(conn, TREE, tree.size, rows, result.tiles, result.root_hash,
                              f"cp{result.edge.size}\n")
    return result.edge


async def test_batches_build_the_tree_log_store_would(tree_conn: asyncpg.Connection) -> None:
    edge, rows = merkle.RightEdge.empty(), []
    for n in (1, 3, 252, 300):  # crosses a level-0 tile, grows one, creates another
        batch = _rows(edge.size, n)
        edge = await _append(tree_conn, edge, batch)
        rows += batch
    head = await ls.get_active_tree(tree_conn)
    assert head is not None
    assert (head.size, head.root_hash, head.checkpoint) == (
        556, merkle.root_hash([r.leaf_hash for r in rows]), "cp556\n")
    for r in (rows[0], rows[255], rows[555]):
        assert await ls.get_entry_by_index(tree_conn, TREE, r.leaf_index) == r
    plan = merkle.edge_plan(556)
    tiles = await ls.read_tiles(tree_conn, TREE, [(t.level, t.index) for t in plan.tiles])
    assert merkle.fold_edge(plan, tiles) == edge
    # Search keys stored as insert_entries stores them: hashed, once each, NULL for none.
    found = await ls.find_index_entries(tree_conn, ["sha256:aa", "b@example.com"])
    assert sorted((k, i) for k, _, i, _ in found) == sorted(
        [(k, r.leaf_index) for r in rows for k in r.search_keys
         if k in ("sha256:aa", "b@example.com")])
    stored = await tree_conn.fetch("SELECT leaf_index, cardinality(search_keys) AS n FROM entries "
                                   "WHERE leaf_index < 4 ORDER BY leaf_index")
    assert [r["n"] for r in stored] == [2, None, 1, 1]


async def test_find_leaves_and_tiles(tree_conn: asyncpg.Connection) -> None:
    await _append(tree_conn, merkle.RightEdge.empty(), _rows(0, 300))
    await ls.create_tree(tree_conn, OTHER_TREE, "other", merkle.EMPTY_ROOT, "cp\n", api_major=2)
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, [entry(OTHER_TREE, 0, seed=1000)])
    mine, theirs = entry(TREE, 7), entry(OTHER_TREE, 0, seed=1000)
    found, tiles = await bw.find_leaves_and_tiles(
        tree_conn, TREE, [mine.leaf_hash, theirs.leaf_hash, h(99), mine.leaf_hash],
        [(0, 1), (0, 0), (0, 1), (3, 3)])
    assert found == {mine.leaf_hash: 7}  # another tree's copy is not a duplicate here
    stored = await ls.read_tiles(tree_conn, TREE, [(0, 0), (0, 1)])
    assert tiles == stored and len(tiles[(0, 1)]) == 44 * 32
    assert (await bw.find_leaves_and_tiles(tree_conn, TREE, [h(5)], [])) == ({}, {})


async def test_a_moved_head_fails_the_batch_whole(tree_conn: asyncpg.Connection) -> None:
    edge = await _append(tree_conn, merkle.RightEdge.empty(), _rows(0, 5))
    rows = _rows(5, 3)
    result = merkle.append_leaves(edge, [r.leaf_hash for r in rows])
    with pytest.raises(StorageError, match="head is not at size 6"):
        async with tree_conn.transaction():
            # A writer whose view of the head is not the stored one (here: ahead).
            ahead = [ls.EntryRow(**{**vars(r), "leaf_index": r.leaf_index + 1}) for r in rows]
            await bw.append_batch(tree_conn, TREE, 6, ahead, [], result.root_hash, "cp\n")
    with pytest.raises(StorageError, match=r"holds \d+ hashes, a write starts at"):
        async with tree_conn.transaction():
            bad = [TileWrite(0, 0, 4, h(1))]  # the tile holds 5 hashes
            await bw.append_batch(tree_conn, TREE, 5, rows, bad, result.root_hash, "cp\n")
    head = await ls.get_active_tree(tree_conn)
    assert head is not None and head.size == 5
    assert await ls.get_entry_by_index(tree_conn, TREE, 5) is None
    assert await tree_conn.fetchval("SELECT count(*) FROM entries") == 5


async def test_a_frozen_tree_takes_no_batch(tree_conn: asyncpg.Connection) -> None:
    async with tree_conn.transaction():
        await ls.freeze_tree(tree_conn, TREE, None)
    rows = _rows(0, 2)
    result = merkle.append_leaves(merkle.RightEdge.empty(), [r.leaf_hash for r in rows])
    with pytest.raises(StorageError, match="frozen"):
        async with tree_conn.transaction():
            await bw.append_batch(tree_conn, TREE, 0, rows, result.tiles, result.root_hash, "cp\n")
    assert await tree_conn.fetchval("SELECT count(*) FROM entries") == 0


@pytest.mark.parametrize("rows", [
    list,
    lambda: _rows(1, 2),  # not from the locked size
    lambda: [*_rows(0, 1), *_rows(1, 1, time=5)],  # two integrated times
    lambda: [entry(OTHER_TREE, 0)],
])
async def test_malformed_batches_are_refused(tree_conn: asyncpg.Connection, rows: object) -> None:
    async with tree_conn.transaction():
        with pytest.raises(StorageError):
            await bw.append_batch(tree_conn, TREE, 0, rows(), [], merkle.EMPTY_ROOT,  # type: ignore[operator]
                                  "cp\n")
    with pytest.raises(StorageError, match="transaction"):
        await bw.append_batch(tree_conn, TREE, 0, _rows(0, 1), [], merkle.EMPTY_ROOT, "cp\n")


async def test_a_batch_after_the_lock_is_two_statements(tree_conn: asyncpg.Connection) -> None:
    queries: list[str] = []

    async def run(operation: Awaitable[object]) -> int:
        await asyncio.sleep(0.01)  # asyncpg calls query loggers via the loop
        queries.clear()
        await operation
        await asyncio.sleep(0.01)
        return len(queries)

    edge = await _append(tree_conn, merkle.RightEdge.empty(), _rows(0, 3))  # types introspected
    await bw.find_leaves_and_tiles(tree_conn, TREE, [h(1)], [(0, 0)])
    tree_conn.add_query_logger(lambda record: queries.append(record.query))
    rows = _rows(3, 40)
    result = merkle.append_leaves(edge, [r.leaf_hash for r in rows])
    async with tree_conn.transaction():
        await ls.lock_tree(tree_conn, TREE)
        assert await run(bw.find_leaves_and_tiles(tree_conn, TREE, [r.leaf_hash for r in rows],
                                                  [(0, 0)])) == 1
        assert await run(bw.append_batch(tree_conn, TREE, 3, rows, result.tiles,
                                         result.root_hash, "cp\n")) == 1


async def test_a_batch_lock_plans_the_rest_without_sequential_scans(
        tree_conn: asyncpg.Connection) -> None:
    """On a small, never analyzed `entries`, PostgreSQL plans the leaf lookup as a
    sequential scan; kept as a connection's generic plan while the log grows, every
    batch read the whole table.  The sequencer's lock turns them off for its batch."""
    await _append(tree_conn, merkle.RightEdge.empty(), _rows(0, 3))
    explain = ("EXPLAIN SELECT leaf_index FROM entries WHERE leaf_hash = ANY($1::bytea[])")

    async def plan(index_scans: bool) -> str:
        async with tree_conn.transaction():
            await ls.lock_tree(tree_conn, TREE, index_scans=index_scans)
            rows = await tree_conn.fetch(explain, [h(1), h(2)])
        return "\n".join(r[0] for r in rows)

    assert "Seq Scan on entries" in await plan(False)  # what the sequencer avoids
    assert "Seq Scan" not in await plan(True)
    assert await tree_conn.fetchval("SHOW enable_seqscan") == "on"  # for its transaction only
