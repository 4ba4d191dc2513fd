"""The storage layer against a real PostgreSQL: migrations, log_store, EmbeddedPostgres."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.merkle import TileWrite
from rekor_py.storage import log_store as ls
from rekor_py.storage.batch_write import find_leaves_and_tiles
from rekor_py.storage.db import (
    CONNECT_TIMEOUT_S,
    TCP_USER_TIMEOUT_MS,
    create_pool,
    to_sqlalchemy_url,
)
from rekor_py.storage.embedded import PG_SYSTEM_USER, SERVER_ROLE, EmbeddedPostgres
from rekor_py.storage.migrate import MIGRATIONS_DIR, head_revision, migrate
from rekor_py.storage.roles import dsn_role, provision_server_role
from rekor_py.storage.tables import metadata

from .conftest import postgres_scratch_dir
from .synthetic_log import synthetic_body

TREE = 1_234_567_890_123
OTHER_TREE = 42


def h(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def entry(tree_id: int, index: int, *, seed: int | None = None) -> ls.EntryRow:
    body = b'{"n": %d}' % (index if seed is None else seed)
    return ls.EntryRow(
        tree_id=tree_id, leaf_index=index, leaf_hash=merkle.leaf_hash(body), body=body,
        integrated_time=1_700_000_000 + index,
        attestation=b"att" if index % 2 else None,
    )


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(database_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def tree_conn(conn: asyncpg.Connection) -> asyncpg.Connection:
    """A connection to a database holding one empty active tree TREE."""
    await ls.create_tree(conn, TREE, "rekor.example/1", merkle.EMPTY_ROOT, "cp0\n")
    return conn


# ---- migrations -----------------------------------------------------------------------


async def test_migrations_apply(conn: asyncpg.Connection) -> None:
    assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision() == "0006"
    tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"alembic_version", "trees", "entries", "tiles",
                      "witnessed_heads", "cosignatures"}


async def test_migrate_twice_is_a_no_op(database_url: str) -> None:
    await migrate(database_url)
    c = await asyncpg.connect(database_url)
    try:
        assert await c.fetch("SELECT version_num FROM alembic_version") == [("0006",)]
    finally:
        await c.close()


async def test_upgrade_keeps_a_v1_log(empty_database_url: str) -> None:
    """A database with a log at revision 0001 (before Rekor v2 trees): after the
    upgrade its tree is the active v1 tree, and a v2 tree can join it."""
    await migrate(empty_database_url, "0001")
    c = await asyncpg.connect(empty_database_url)
    try:
        await c.execute("INSERT INTO trees (tree_id, origin, root_hash, checkpoint) "
                        "VALUES ($1, 'old - 1', $2, 'cp')", TREE, h(0))
        await c.execute("INSERT INTO trees (tree_id, origin, root_hash, checkpoint, state) "
                        "VALUES ($1, 'older - 2', $2, 'cp', 'frozen')", OTHER_TREE, h(1))
        await migrate(empty_database_url)
        assert await c.fetchval("SELECT version_num FROM alembic_version") == "0006"
        v1 = await ls.get_active_tree(c)
        assert v1 is not None and (v1.tree_id, v1.api_major) == (TREE, 1)
        assert await ls.get_active_tree(c, 2) is None
        await ls.create_tree(c, 99, "rekor.example", merkle.EMPTY_ROOT, "cp", api_major=2)
        assert (await ls.get_active_tree(c, 2)).tree_id == 99  # type: ignore[union-attr]
    finally:
        await c.close()


async def test_concurrent_migrations_in_one_process(empty_database_url: str) -> None:
    await asyncio.gather(*(migrate(empty_database_url) for _ in range(3)))
    c = await asyncpg.connect(empty_database_url)
    try:
        assert await c.fetchval("SELECT count(*) FROM alembic_version") == 1
    finally:
        await c.close()


async def test_concurrent_migrations_in_two_processes(empty_database_url: str) -> None:
    # The real case: two server processes starting at once on one database.
    code = "import asyncio, sys; from rekor_py.storage.migrate import migrate; asyncio.run(migrate(sys.argv[1]))"
    checkout = MIGRATIONS_DIR.parents[1]  # rekor_py/migrations -> the folder holding rekor_py
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, empty_database_url, cwd=checkout,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    c = await asyncpg.connect(empty_database_url)
    try:
        assert await c.fetch("SELECT version_num FROM alembic_version") == [("0006",)]
    finally:
        await c.close()


async def test_migrated_schema_matches_tables_module(database_url: str) -> None:
    def diff(sync: SyncConnection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata))

    engine = create_async_engine(to_sqlalchemy_url(database_url), poolclass=NullPool)
    try:
        async with engine.connect() as c:
            assert await c.run_sync(diff) == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        ("INSERT INTO trees (tree_id, origin, root_hash, checkpoint, size) VALUES (7, 'o', $1, 'c', -1)", (h(0),)),
        ("INSERT INTO trees (tree_id, origin, root_hash, checkpoint, state) VALUES (7, 'o', $1, 'c', 'gone')", (h(0),)),
        ("INSERT INTO trees (tree_id, origin, root_hash, checkpoint) VALUES (7, 'o', $1, 'c')", (b"short",)),
        ("INSERT INTO entries (tree_id, leaf_index, integrated_time, leaf_hash, body) "
         "VALUES ($1, 0, 0, $2, '{}')", (TREE, h(0)[:31])),
        ("INSERT INTO entries (tree_id, leaf_index, integrated_time, leaf_hash, body) "
         "VALUES ($1, -1, 0, $2, '{}')", (TREE, h(0))),
        ("INSERT INTO entries (tree_id, leaf_index, integrated_time, leaf_hash, body) "
         "VALUES ($1, 0, 0, $2, '{}')", (OTHER_TREE, h(0))),  # no such tree
        ("INSERT INTO tiles VALUES ($1, 0, 0, $2)", (TREE, h(0) + b"x")),
        ("INSERT INTO tiles VALUES ($1, 0, 0, $2)", (TREE, h(0) * 257)),
        ("INSERT INTO tiles VALUES ($1, 0, 0, $2)", (TREE, b"")),
        ("INSERT INTO tiles VALUES ($1, 0, 0, $2)", (OTHER_TREE, h(0))),  # no such tree
    ],
)
async def test_schema_rejects_bad_rows(tree_conn: asyncpg.Connection, sql: str, args: tuple[object, ...]) -> None:
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await tree_conn.execute(sql, *args)


# ---- trees ----------------------------------------------------------------------------


async def test_create_get_and_lock_tree(conn: asyncpg.Connection) -> None:
    assert await ls.get_active_tree(conn) is None
    created = await ls.create_tree(conn, TREE, "rekor.example/1", merkle.EMPTY_ROOT, "cp0\n")
    want = ls.TreeRow(TREE, "rekor.example/1", "active", 0, merkle.EMPTY_ROOT, "cp0\n")
    assert created == want
    assert await ls.get_active_tree(conn) == want
    async with conn.transaction():
        assert await ls.lock_tree(conn, TREE) == want


async def test_only_one_active_tree(tree_conn: asyncpg.Connection) -> None:
    with pytest.raises(StorageError):
        await ls.create_tree(tree_conn, OTHER_TREE, "o2", merkle.EMPTY_ROOT, "cp")
    with pytest.raises(StorageError):
        await ls.create_tree(tree_conn, TREE, "again", merkle.EMPTY_ROOT, "cp")
    await tree_conn.execute("UPDATE trees SET state = 'frozen' WHERE tree_id = $1", TREE)
    await ls.create_tree(tree_conn, OTHER_TREE, "o2", merkle.EMPTY_ROOT, "cp")
    active = await ls.get_active_tree(tree_conn)
    assert active is not None and active.tree_id == OTHER_TREE


async def test_one_active_tree_per_api(tree_conn: asyncpg.Connection) -> None:
    """A Rekor v2 tree is active beside the v1 tree; a second one of either API is not."""
    v2 = await ls.create_tree(tree_conn, OTHER_TREE, "rekor.example", merkle.EMPTY_ROOT, "cp",
                              api_major=2)
    assert v2.api_major == 2
    assert await ls.get_active_tree(tree_conn, 2) == v2
    assert (await ls.get_active_tree(tree_conn)).tree_id == TREE  # type: ignore[union-attr]
    with pytest.raises(StorageError):
        await ls.create_tree(tree_conn, 12345, "o3", merkle.EMPTY_ROOT, "cp", api_major=2)
    with pytest.raises(asyncpg.CheckViolationError):
        await tree_conn.execute("INSERT INTO trees (tree_id, origin, root_hash, checkpoint, "
                                "api_major, state) VALUES (9, 'o', $1, 'c', 3, 'frozen')", h(0))


async def test_lock_tree_needs_transaction_and_tree(tree_conn: asyncpg.Connection) -> None:
    with pytest.raises(StorageError, match="transaction"):
        await ls.lock_tree(tree_conn, TREE)
    async with tree_conn.transaction():
        with pytest.raises(StorageError, match="does not exist"):
            await ls.lock_tree(tree_conn, OTHER_TREE)


async def test_lock_tree_excludes_a_second_writer(tree_conn: asyncpg.Connection, database_url: str) -> None:
    other = await asyncpg.connect(database_url)
    try:
        async with tree_conn.transaction():
            await ls.lock_tree(tree_conn, TREE)
            async with other.transaction():
                await other.execute("SET LOCAL lock_timeout = '200ms'")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await ls.lock_tree(other, TREE)
        async with other.transaction():  # free again after commit
            assert (await ls.lock_tree(other, TREE)).tree_id == TREE
    finally:
        await other.close()


async def test_update_tree_head_compare_and_swap(tree_conn: asyncpg.Connection) -> None:
    await ls.update_tree_head(tree_conn, TREE, 0, 5, h(5), "cp5\n")
    assert await ls.get_active_tree(tree_conn) == ls.TreeRow(TREE, "rekor.example/1", "active", 5, h(5), "cp5\n")
    with pytest.raises(StorageError, match="not at size 0"):
        await ls.update_tree_head(tree_conn, TREE, 0, 7, h(7), "stale writer\n")
    with pytest.raises(StorageError, match="shrink"):
        await ls.update_tree_head(tree_conn, TREE, 5, 4, h(4), "cp4\n")
    with pytest.raises(StorageError):
        await ls.update_tree_head(tree_conn, OTHER_TREE, 0, 1, h(1), "no such tree\n")
    await ls.update_tree_head(tree_conn, TREE, 5, 5, h(5), "cp5 re-signed\n")
    tree = await ls.get_active_tree(tree_conn)
    assert tree is not None and (tree.size, tree.checkpoint) == (5, "cp5 re-signed\n")


async def test_frozen_tree_cannot_grow(tree_conn: asyncpg.Connection) -> None:
    await tree_conn.execute("UPDATE trees SET state = 'frozen' WHERE tree_id = $1", TREE)
    with pytest.raises(StorageError, match="frozen"):
        await ls.update_tree_head(tree_conn, TREE, 0, 1, h(1), "cp1\n")
    await ls.update_tree_head(tree_conn, TREE, 0, 0, merkle.EMPTY_ROOT, "cp0 re-signed\n")


# ---- entries and search keys -----------------------------------------------------------


async def test_entries_round_trip(tree_conn: asyncpg.Connection) -> None:
    rows = [entry(TREE, i) for i in range(300)]
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, rows)
    assert await ls.get_entry_by_index(tree_conn, TREE, 0) == rows[0]
    assert await ls.get_entry_by_index(tree_conn, TREE, 299) == rows[299]
    assert await ls.get_entry_by_index(tree_conn, TREE, 300) is None
    assert await ls.get_entry_by_index(tree_conn, OTHER_TREE, 0) is None
    await ls.insert_entries(tree_conn, [])


async def test_duplicate_index_raises(tree_conn: asyncpg.Connection) -> None:
    """A taken index is refused by the primary key.  (A duplicate leaf is the
    sequencer's to rule out under the tree lock: test_concurrent_writers.)"""
    await ls.insert_entries(tree_conn, [entry(TREE, 0)])
    with pytest.raises(StorageError, match="constraint"):
        await ls.insert_entries(tree_conn, [entry(TREE, 0, seed=5)])  # index taken


async def test_entries_by_leaf_hash_across_trees(tree_conn: asyncpg.Connection) -> None:
    first = [entry(TREE, i) for i in range(3)]
    await ls.insert_entries(tree_conn, first)
    await tree_conn.execute("UPDATE trees SET state = 'frozen' WHERE tree_id = $1", TREE)
    await ls.create_tree(tree_conn, OTHER_TREE, "rekor.example/2", merkle.EMPTY_ROOT, "cp0\n")
    # The same body in the next shard: allowed, it is another tree.
    second = [entry(OTHER_TREE, 0, seed=1), entry(OTHER_TREE, 1, seed=9)]
    await ls.insert_entries(tree_conn, second)
    trees, got = await ls.read_trees_with_leaf_hashes(
        tree_conn, 1, [second[1].leaf_hash, first[1].leaf_hash, h(1)])
    assert [t.tree_id for t in trees] == [TREE, OTHER_TREE]  # list_trees' order
    assert got == [first[1], second[0], second[1]]  # by tree, then index
    trees, got = await ls.read_trees_with_leaf_hashes(tree_conn, 1, [])
    assert (len(trees), got) == (2, [])
    assert await ls.read_trees_with_leaf_hashes(tree_conn, 2, [first[1].leaf_hash]) == ([], [])


async def test_search_keys_round_trip(tree_conn: asyncpg.Connection) -> None:
    keys: dict[int, tuple[str, ...]] = {
        0: ("sha256:aa", "sha256:aa"), 1: ("a@example.com", "b@example.com"), 2: ("sha256:aa",),
        3: ()}
    entries = {i: ls.EntryRow(**{**vars(entry(TREE, i)), "search_keys": keys[i]}) for i in keys}
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, list(entries.values()))
    found = await ls.find_index_entries(tree_conn, ["sha256:aa", "a@example.com", "missing",
                                                    "a@example.com"])
    assert sorted(found) == [
        ("a@example.com", TREE, 1, entries[1].leaf_hash),
        ("sha256:aa", TREE, 0, entries[0].leaf_hash),
        ("sha256:aa", TREE, 2, entries[2].leaf_hash),
    ]
    assert await ls.find_index_entries(tree_conn, []) == []
    assert await ls.find_index_entries(tree_conn, ["sha256:aa"], api_major=2) == []
    # Stored hashed, once per entry; none for an entry without keys.
    stored = await tree_conn.fetch("SELECT leaf_index, cardinality(search_keys) AS n "
                                   "FROM entries ORDER BY leaf_index")
    assert [(r["leaf_index"], r["n"]) for r in stored] == [(0, 1), (1, 2), (2, 1), (3, None)]


async def test_bodies_are_stored_deflated_and_read_canonical(tree_conn: asyncpg.Connection) -> None:
    body = synthetic_body(7)
    row = ls.EntryRow(TREE, 0, merkle.leaf_hash(body), body, 1)
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, [row])
    stored = await tree_conn.fetchval("SELECT body FROM entries WHERE leaf_index = 0")
    assert stored[0] == 1 and len(stored) < len(body) * 0.55
    assert await ls.get_entry_by_index(tree_conn, TREE, 0) == row
    assert await ls.read_entry_bodies(tree_conn, TREE, 0, 1) == [body]
    # A row written before the codec (the body itself) reads the same.
    await tree_conn.execute("UPDATE entries SET body = $1 WHERE leaf_index = 0", body)
    assert (await ls.read_trees_with_leaf_hashes(tree_conn, 1, [row.leaf_hash]))[1] == [row]


async def test_any_body_round_trips_through_the_table(tree_conn: asyncpg.Connection) -> None:
    """Byte for byte, whatever the body (the codec's own properties are in
    tests/unit/storage/test_body_codec.py, with hypothesis)."""
    rng = random.Random(5)
    bodies = [b"", b"{", b"\x01", b"\x01\x00", b"{}" * 3000, synthetic_body(1)[:-1],
              bytes(range(256)) * 40]
    bodies += [rng.randbytes(rng.randrange(1, 3000)) for _ in range(100)]
    bodies += [json.dumps({"kind": "x", "n": [rng.random() for _ in range(rng.randrange(80))]},
                          separators=(",", ":")).encode() for _ in range(100)]
    rows = [ls.EntryRow(TREE, i, merkle.leaf_hash(b), b, 1) for i, b in enumerate(bodies)]
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, rows)
    assert await ls.read_entry_bodies(tree_conn, TREE, 0, len(bodies)) == bodies
    stored = await tree_conn.fetch("SELECT body FROM entries ORDER BY leaf_index")
    assert all(r["body"][:1] in (b"{", b"\x01") for r in stored)


async def test_insert_entries_is_fast_enough(tree_conn: asyncpg.Connection) -> None:
    rows = [ls.EntryRow(**{**vars(entry(TREE, i)), "search_keys": (f"sha256:{i:064x}",)})
            for i in range(1000)]
    started = time.perf_counter()
    async with tree_conn.transaction():
        await ls.insert_entries(tree_conn, rows)
    # COPY: tens of milliseconds here; the bound only catches row-by-row inserts.
    assert time.perf_counter() - started < 2.0


# ---- tiles ----------------------------------------------------------------------------


async def test_tiles_append_and_read(tree_conn: asyncpg.Connection) -> None:
    async with tree_conn.transaction():
        await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(0, 0, 0, h(0) + h(1)), TileWrite(1, 3, 0, h(9))])
    async with tree_conn.transaction():
        await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(0, 0, 2, h(2)), TileWrite(1, 3, 1, h(10) * 255)])
    tiles = await ls.read_tiles(tree_conn, TREE, [(0, 0), (1, 3), (2, 0), (0, 0)])
    assert tiles == {(0, 0): h(0) + h(1) + h(2), (1, 3): h(9) + h(10) * 255}
    assert await ls.read_tiles(tree_conn, TREE, []) == {}
    assert await ls.read_tiles(tree_conn, OTHER_TREE, [(0, 0)]) == {}


@pytest.mark.parametrize(
    "bad",
    [
        TileWrite(0, 0, 1, h(5)),  # overlaps the stored hash 1
        TileWrite(0, 0, 3, h(5)),  # leaves a gap after position 1
        TileWrite(0, 0, 0, h(5)),  # rewrites a stored tile from its start
        TileWrite(0, 1, 4, h(5)),  # no tile (0, 1) yet
    ],
)
async def test_tile_append_with_wrong_start_raises(tree_conn: asyncpg.Connection, bad: TileWrite) -> None:
    async with tree_conn.transaction():
        await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(0, 0, 0, h(0) + h(1))])
    with pytest.raises(StorageError, match=r"holds \d+ hashes, a write starts at"):
        async with tree_conn.transaction():
            # A good write in the same batch is rolled back with the bad one.
            await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(2, 0, 0, h(7)), bad])
    assert await ls.read_tiles(tree_conn, TREE, [(0, 0), (0, 1), (2, 0)]) == {(0, 0): h(0) + h(1)}


@pytest.mark.parametrize(
    ("writes", "message"),
    [
        ([TileWrite(0, 0, 0, h(0)), TileWrite(0, 0, 1, h(1))], "bad tile write"),  # one tile twice
        ([TileWrite(0, 0, 0, b"x" * 33)], "bad tile write"),
        ([TileWrite(0, 0, 0, b"")], "bad tile write"),
        ([TileWrite(0, 0, 255, h(0) * 2)], "overflows"),
    ],
)
async def test_tile_append_rejects_malformed_writes(
    tree_conn: asyncpg.Connection, writes: list[TileWrite], message: str
) -> None:
    async with tree_conn.transaction():
        with pytest.raises(StorageError, match=message):
            await ls.append_tile_hashes(tree_conn, TREE, writes)


async def test_tile_append_needs_transaction(tree_conn: asyncpg.Connection) -> None:
    with pytest.raises(StorageError, match="transaction"):
        await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(0, 0, 0, h(0))])


async def test_tile_writes_are_one_round_trip_and_read_tiles_one_query(tree_conn: asyncpg.Connection) -> None:
    queries: list[str] = []

    async def run(operation: Awaitable[object]) -> list[str]:
        await asyncio.sleep(0.01)  # asyncpg calls query loggers via the loop: let earlier ones land
        queries.clear()
        await operation
        await asyncio.sleep(0.01)
        return [q for q in queries if q.strip() not in ("BEGIN;", "COMMIT;")]

    # Warm up: asyncpg introspects array types once per connection, with queries of its own.
    async with tree_conn.transaction():
        await ls.append_tile_hashes(tree_conn, TREE, [TileWrite(5, 0, 0, h(5))])
    await ls.read_tiles(tree_conn, TREE, [(5, 0)])
    tree_conn.add_query_logger(lambda record: queries.append(record.query))
    async with tree_conn.transaction():
        writes = [TileWrite(level, 0, 0, h(level)) for level in range(4)] + [TileWrite(5, 0, 1, h(6))]
        assert len(await run(ls.append_tile_hashes(tree_conn, TREE, writes))) == 1
    keys = [(level, 0) for level in range(6)] + [(9, 9)]
    assert len(await run(ls.read_tiles(tree_conn, TREE, keys))) == 1
    tiles = await ls.read_tiles(tree_conn, TREE, keys)
    assert tiles == {**{(level, 0): h(level) for level in range(4)}, (5, 0): h(5) + h(6)}


async def test_sequencer_shaped_batches_build_a_provable_tree(tree_conn: asyncpg.Connection) -> None:
    """Batches as the sequencer runs them; proofs folded from stored tiles match the engine."""
    leaves: list[bytes] = []
    edge = merkle.RightEdge.empty()
    for batch_size in (1, 2, 250, 3, 300, 66000 - 556):  # crosses level-0 and level-1 tiles
        async with tree_conn.transaction():
            tree = await ls.lock_tree(tree_conn, TREE)
            assert tree.size == edge.size
            new = [entry(TREE, tree.size + i) for i in range(batch_size)]
            found, _ = await find_leaves_and_tiles(tree_conn, TREE, [e.leaf_hash for e in new], [])
            assert found == {}
            await ls.insert_entries(tree_conn, new)
            result = merkle.append_leaves(edge, [e.leaf_hash for e in new])
            await ls.append_tile_hashes(tree_conn, TREE, result.tiles)
            await ls.update_tree_head(tree_conn, TREE, tree.size, result.edge.size, result.root_hash, "cp\n")
        edge = result.edge
        leaves += [e.leaf_hash for e in new]
    size = len(leaves)
    assert size == 66000
    head = await ls.get_active_tree(tree_conn)
    assert head is not None and head.root_hash == merkle.root_hash(leaves)
    plan = merkle.edge_plan(size)
    tiles = await ls.read_tiles(tree_conn, TREE, [(t.level, t.index) for t in plan.tiles])
    assert merkle.fold_edge(plan, tiles) == edge
    for index in (0, 255, 256, 65535, 65999):
        plan = merkle.inclusion_plan(index, size)
        tiles = await ls.read_tiles(tree_conn, TREE, [(t.level, t.index) for t in plan.tiles])
        assert merkle.fold_proof(plan, tiles) == merkle.inclusion_proof(leaves, index, size)


# ---- pool -----------------------------------------------------------------------------


async def test_create_pool(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as c:
            assert await c.fetchval("SHOW jit") == "off"
            assert await c.fetchval("SELECT current_setting('application_name')") == "rekor-py"
    finally:
        await pool.close()
    with pytest.raises(ValueError):
        await create_pool(database_url, min_size=3, max_size=2)


async def test_pool_rolls_back_a_transaction_left_open(database_url: str) -> None:
    """create_pool's reset runs no query and relies on asyncpg rolling back first: a
    connection given back in a transaction (a request cancelled mid-way) comes out of
    the pool without it, and what that transaction wrote is gone."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as c:
            await c.execute("CREATE TEMP TABLE IF NOT EXISTS reset_probe (n int)")
            await c.execute("BEGIN")
            await c.execute("INSERT INTO reset_probe VALUES (1)")
            assert c.is_in_transaction()
        async with pool.acquire() as c:  # max_size=1: the same connection
            assert not c.is_in_transaction()
            assert await c.fetchval("SELECT count(*) FROM reset_probe") == 0
    finally:
        await pool.close()


async def test_pool_hands_connections_back_after_cancelled_and_plain_uses(
        database_url: str) -> None:
    """The pool's quick acquire and release (storage/db.py _Pool) keep asyncpg's
    bookkeeping: a plain use gives the same connection back idle, a query cancelled
    mid-way goes the slow way (its cancellation waited for), and the pool closes."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as c:
            first = c._con
            assert await c.fetchval("SELECT 1") == 1
        assert pool.get_idle_size() == 1
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2), pool.acquire() as c:
                assert c._con is first
                await c.execute("SELECT pg_sleep(5)")
        async with asyncio.timeout(10), pool.acquire() as c:
            assert await c.fetchval("SELECT 2") == 2
            assert not c.is_in_transaction()
        for _ in range(50):  # one connection, handed over among concurrent users
            await asyncio.gather(*[pool.fetchval("SELECT 3") for _ in range(4)])
        assert pool.get_idle_size() == 1
        connection = await pool.acquire()
        await pool.release(connection)
        await pool.release(connection)  # a second release does nothing, as in asyncpg
        assert pool.get_idle_size() == 1
        assert type(pool)._quick, "the quick path met asyncpg internals it does not know"
    finally:
        await asyncio.wait_for(pool.close(), 10)


# ---- EmbeddedPostgres -----------------------------------------------------------------


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    d = postgres_scratch_dir()
    try:
        yield d
    finally:
        EmbeddedPostgres(d).stop()  # whatever a failed test left running
        shutil.rmtree(d, ignore_errors=True)


async def _write_row(dsn: str, value: str) -> None:
    c = await asyncpg.connect(dsn)
    try:
        await c.execute("CREATE TABLE IF NOT EXISTS kv (v text)")
        await c.execute("INSERT INTO kv VALUES ($1)", value)
    finally:
        await c.close()


async def _read_rows(dsn: str) -> list[str]:
    c = await asyncpg.connect(dsn)
    try:
        return [r["v"] for r in await c.fetch("SELECT v FROM kv ORDER BY v")]
    finally:
        await c.close()


async def test_embedded_data_survives_stop_and_start(pg_dir: Path) -> None:
    with EmbeddedPostgres(pg_dir) as pg:
        assert pg.is_running()
        port = pg.port
        dsn = pg.dsn()
        await _write_row(dsn, "before restart")
    assert not pg.is_running()
    pg = EmbeddedPostgres(pg_dir)
    # Same cluster, same port (recorded), so the same DSN.
    assert await asyncio.to_thread(pg.start) == dsn
    try:
        assert pg.port == port
        assert await _read_rows(dsn) == ["before restart"]
        # A second handle on a running cluster attaches instead of starting another.
        assert await asyncio.to_thread(EmbeddedPostgres(pg_dir).start) == dsn
    finally:
        # A fresh handle (another process, say) can stop it: under root it must
        # find the server's user by itself.
        await asyncio.to_thread(EmbeddedPostgres(pg_dir).stop)
    assert not pg.is_running()
    pg.stop()  # stopping a stopped server is a no-op


async def test_embedded_socket_and_server_identity(pg_dir: Path) -> None:
    with EmbeddedPostgres(pg_dir, fsync=False) as pg:
        assert pg.port is not None
        # The unix socket in data_dir/socket answers too (same password).
        c = await asyncpg.connect(pg.dsn(), host=str(pg.socket_dir), port=pg.port)
        try:
            assert await c.fetchval("SELECT current_setting('unix_socket_directories')") == str(pg.socket_dir)
            assert await c.fetchval("SELECT inet_server_addr()") is None  # i.e. not TCP
        finally:
            await c.close()
        status = _proc_status(int((pg.pgdata / "postmaster.pid").read_text().split()[0]))
        if os.geteuid() == 0:
            # PostgreSQL refuses root: it runs as the dedicated user, with that
            # user's own group and no supplementary groups (none of root's).
            user = pwd.getpwnam(PG_SYSTEM_USER)
            assert status["Uid"].split()[0] == str(user.pw_uid)
            assert status["Gid"].split()[0] == str(user.pw_gid)
            assert status["Groups"] == ""
            assert pg.pgdata.stat().st_uid == user.pw_uid
        else:
            assert status["Uid"].split()[0] == str(os.getuid())


async def _server_address(dsn: str) -> tuple[str, str | None]:
    c = await asyncpg.connect(dsn)
    try:
        return await c.fetchval("SELECT current_user"), await c.fetchval(
            "SELECT inet_server_addr()::text")
    finally:
        await c.close()


async def test_log_server_connects_over_the_unix_socket(pg_dir: Path) -> None:
    """The log server's own DSN goes through the socket (cheaper round trips than
    loopback TCP); where the socket path is too long for one, through TCP."""
    with EmbeddedPostgres(pg_dir, fsync=False) as pg:
        dsn = pg.server_dsn()
        assert f"host={pg.socket_dir}&" in dsn and "127.0.0.1" not in dsn
        assert dsn_role(dsn)[0] == SERVER_ROLE
        await provision_server_role(pg.dsn(), dsn)
        assert await _server_address(dsn) == (SERVER_ROLE, None)  # None: not TCP
    # sockaddr_un holds 108 bytes: this data dir's socket path does not fit.
    deep = pg_dir / ("d" * 100)
    deep.mkdir()
    os.chmod(pg_dir, 0o755)  # the server's own user must reach its folder
    try:
        with EmbeddedPostgres(deep, fsync=False) as pg:
            dsn = pg.server_dsn()
            assert "@127.0.0.1:" in dsn
            await provision_server_role(pg.dsn(), dsn)
            assert await _server_address(dsn) == (SERVER_ROLE, "127.0.0.1/32")
    finally:
        EmbeddedPostgres(deep).stop()


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


async def test_embedded_recovers_after_sigkill(pg_dir: Path) -> None:
    pg = EmbeddedPostgres(pg_dir)
    dsn = await asyncio.to_thread(pg.start)
    await _write_row(dsn, "committed")
    postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)
    # The killed postmaster may linger as a zombie; is_running must not be fooled.
    deadline = time.monotonic() + 10
    while pg.is_running() and time.monotonic() < deadline:  # noqa: ASYNC110  polls another process
        await asyncio.sleep(0.05)
    assert not pg.is_running()
    assert (pg.pgdata / "postmaster.pid").exists()  # stale, left by the crash
    try:
        assert await asyncio.to_thread(pg.start) == dsn
        assert await _read_rows(dsn) == ["committed"]
    finally:
        await asyncio.to_thread(pg.stop)
    log = pg.log_file.read_text()
    assert "automatic recovery in progress" in log


def test_embedded_start_failure_raises_with_log(pg_dir: Path) -> None:
    pg = EmbeddedPostgres(pg_dir, fsync=False)
    pg.start()
    pg.stop()
    # A broken setting: start must fail loudly, with the server's own words.
    with open(pg.pgdata / "postgresql.auto.conf", "a") as f:
        f.write("shared_buffers = 'lots'\n")
    with pytest.raises(StorageError, match="shared_buffers"):
        pg.start()


async def test_pool_skips_a_silent_host_of_a_multi_host_url(database_url: str) -> None:
    """A host that drops SYNs (a partitioned primary) costs CONNECT_TIMEOUT_S, not the
    whole connect: the pool goes on to the next host of the URL."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)  # a backlog of 0 that nobody accepts from: connects hang
    filler = [socket.socket() for _ in range(3)]
    for s in filler:  # fill the backlog; the last SYNs are dropped, not refused
        s.setblocking(False)
        s.connect_ex(silent.getsockname())
    try:
        parts = urlsplit(database_url)
        userinfo, _, host = parts.netloc.rpartition("@")
        port = silent.getsockname()[1]
        dsn = urlunsplit(parts._replace(
            netloc=f"{userinfo}@127.0.0.1:{port},{host}", query="target_session_attrs=read-write"))
        started = time.monotonic()
        pool = await create_pool(dsn, min_size=1, max_size=1)
        try:
            assert await pool.fetchval("SELECT 1") == 1
        finally:
            await pool.close()
        assert time.monotonic() - started < CONNECT_TIMEOUT_S + 5
    finally:
        for s in (*filler, silent):
            s.close()


async def test_pool_connections_give_up_on_a_silent_peer(database_url: str) -> None:
    """Every pooled TCP connection has keepalives and a TCP user timeout, so one to a
    primary cut off by a partition fails in seconds instead of hanging."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            sock = conn._transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == TCP_USER_TIMEOUT_MS
    finally:
        await pool.close()
