"""Reads and writes of the log's rows: trees, entries (with their search keys), tiles.

Every function takes an open asyncpg connection and runs SQL with bound
parameters only.  Transactions are the caller's: the sequencer runs one batch
as ONE transaction (lock_tree, then batch_write.py's two statements: the
duplicate check, then what insert_entries, append_tile_hashes and
update_tree_head do one round trip each, which the synthetic-log builder and
the tests still use; then commit), so nothing half-written is ever visible.
Each function costs one round trip.

What the rows mean (leaf hashes, tiles, checkpoints) is the merkle and log
layers' business; this module checks only what keeps the stored tree from
forking: tiles only grow at their end, and a tree head only moves from the size
the writer read.  Those failures, and any constraint violation, raise
StorageError: under the tree lock they mean a bug or a corrupt database, never
a client mistake.

Entries' bodies and search keys are stored in compact forms (storage/body_codec.py,
storage/search_keys.py): callers see canonical bodies and key strings only.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import asyncpg  # type: ignore[import-untyped]

from rekor_py.errors import StorageError
from rekor_py.storage.body_codec import decode_body, encode_body
from rekor_py.storage.db import Connection, Record
from rekor_py.storage.search_keys import key_hash, key_hashes
from rekor_py.storage.tables import HASH_SIZE, MAX_TILE_BYTES

__all__ = [
    "EntryRow",
    "TileWriteLike",
    "TreeRow",
    "append_tile_hashes",
    "create_tree",
    "find_index_entries",
    "freeze_tree",
    "get_active_tree",
    "get_entry_by_index",
    "insert_entries",
    "integrated_times",
    "list_trees",
    "lock_tree",
    "lock_tree_creation",
    "read_entry_bodies",
    "read_tile_range",
    "read_trees_with_leaf_hashes",
    "read_tiles",
    "read_trees_with",
    "tree_created_at",
    "update_tree_head",
]

_TILE_WIDTH = MAX_TILE_BYTES // HASH_SIZE

_T = TypeVar("_T")
_H = TypeVar("_H", bound=Hashable)


@dataclass(frozen=True)
class TreeRow:
    tree_id: int
    origin: str
    state: str
    size: int
    root_hash: bytes
    checkpoint: str
    api_major: int = 1  # the Rekor API the tree serves (tables.trees)
    virtual_offset: int = 0  # the log-wide index of its leaf 0 (Rekor shards)
    log_id: bytes | None = None  # its key's SHA-256(SPKI); None: the configured key
    # When it was created; not part of a row's identity (tests compare rows).
    created_at: datetime.datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class EntryRow:
    tree_id: int
    leaf_index: int
    leaf_hash: bytes
    body: bytes  # canonical (the stored form is body_codec's business)
    integrated_time: int
    attestation: bytes | None = None
    # Written with the entry; reads do not fill them in (search reads the keys).
    search_keys: Sequence[str] = field(default=(), compare=False)
    # body_codec.encode_body(body) if the caller has it already (made off the event
    # loop); None: insert_entries encodes the body.
    stored_body: bytes | None = field(default=None, compare=False)
    # The SET signed when the entry was logged, in log/set.py's stored form; None
    # for v2 entries and rows logged before revision 0006 (reads sign one).
    signed_entry_timestamp: bytes | None = None


class TileWriteLike(Protocol):
    """What append_tile_hashes reads from rekor_py.merkle.TileWrite."""

    @property
    def level(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def hashes(self) -> bytes: ...


_TREE_COLUMNS = ("tree_id, origin, state, size, root_hash, checkpoint, api_major, "
                 "virtual_offset, log_id, created_at")
_ENTRY_COLUMNS = ("tree_id", "leaf_index", "leaf_hash", "body", "integrated_time", "attestation",
                  "signed_entry_timestamp")
_ENTRY_SELECT = "e." + ", e.".join(_ENTRY_COLUMNS)
# A tree's columns, and beside them an entry's (its tree_id is the tree's), for the
# statements that read trees with entries.
_TREE_SELECT = ", ".join("t." + c.strip() for c in _TREE_COLUMNS.split(","))
_ENTRY_SELECT_BESIDE = ", ".join("e." + c for c in _ENTRY_COLUMNS if c != "tree_id")


# ---- trees ---------------------------------------------------------------------------


async def create_tree(
    conn: Connection, tree_id: int, origin: str, root_hash_empty: bytes, checkpoint: str,
    api_major: int = 1, *, virtual_offset: int = 0, log_id: bytes | None = None,
) -> TreeRow:
    """Insert a new, empty, active tree serving Rekor API `api_major`, whose leaf 0
    is the log's entry `virtual_offset`, signed by the key `log_id`.

    Raises StorageError if the tree id is taken or another tree of that API is active.
    """
    row = await guarded(conn.fetchrow(
        f"INSERT INTO trees (tree_id, origin, state, size, root_hash, checkpoint, api_major, "
        f"virtual_offset, log_id) "
        f"VALUES ($1, $2, 'active', 0, $3, $4, $5, $6, $7) RETURNING {_TREE_COLUMNS}",
        tree_id, origin, root_hash_empty, checkpoint, api_major, virtual_offset, log_id,
    ))
    assert row is not None  # INSERT ... RETURNING returns the row
    return _tree(row)


# Serializes tree creation between processes that start at the same moment.
_TREE_CREATION_LOCK = 0x72656B6F72  # "rekor"


async def lock_tree_creation(conn: Connection) -> None:
    """Hold the tree-creation lock (a transaction-level advisory lock) until the
    transaction ends, so that two servers starting at once create one tree."""
    require_transaction(conn, "lock_tree_creation")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _TREE_CREATION_LOCK)


async def get_active_tree(conn: Connection, api_major: int = 1) -> TreeRow | None:
    """The tree that takes new entries of Rekor API `api_major`, or None before
    the first start."""
    row = await conn.fetchrow(
        f"SELECT {_TREE_COLUMNS} FROM trees WHERE state = 'active' AND api_major = $1",
        api_major)
    return _tree(row) if row is not None else None


async def list_trees(conn: Connection, api_major: int = 1) -> list[TreeRow]:
    """Every tree (shard) of Rekor API `api_major`, in the order of the log's
    virtual index: frozen ones first, the active one last."""
    rows = await conn.fetch(
        f"SELECT {_TREE_COLUMNS} FROM trees WHERE api_major = $1 "
        f"ORDER BY virtual_offset, state = 'active', created_at", api_major)
    return [_tree(r) for r in rows]


async def freeze_tree(conn: Connection, tree_id: int, log_id: bytes | None) -> None:
    """Freeze the (locked) tree: its current checkpoint becomes its final one.
    Records its key's `log_id` if none was recorded yet."""
    require_transaction(conn, "freeze_tree")
    status = await guarded(conn.execute(
        "UPDATE trees SET state = 'frozen', log_id = COALESCE(log_id, $2) "
        "WHERE tree_id = $1 AND state = 'active'", tree_id, log_id))
    if status != "UPDATE 1":
        raise StorageError(f"tree {tree_id} is not active")


async def tree_created_at(conn: Connection, tree_id: int) -> datetime.datetime:
    """When the tree was created (the start of its key's validity, for clients)."""
    created = await conn.fetchval("SELECT created_at FROM trees WHERE tree_id = $1", tree_id)
    if created is None:
        raise StorageError(f"tree {tree_id} does not exist")
    return created  # type: ignore[no-any-return]


async def lock_tree(conn: Connection, tree_id: int, *, index_scans: bool = False) -> TreeRow:
    """Lock the tree row until the transaction ends (SELECT ... FOR UPDATE) and return it.

    Requires an open transaction (without one the lock would end with the
    statement).  Raises StorageError if there is none or the tree does not exist.

    `index_scans`: the rest of the transaction is planned without sequential scans
    (enable_seqscan off until it ends, set by this same statement).  The sequencer's
    statements look entries up by leaf hash; a connection prepares them once and
    PostgreSQL keeps the plan it made early, and on a new log, before any ANALYZE,
    that could be a sequential scan of `entries`: every batch then read the whole
    table (seen in benchmarks: one backend at 4x the CPU of the other).
    """
    require_transaction(conn, "lock_tree")
    scans = "set_config('enable_seqscan', 'off', true) AS seqscan, " if index_scans else ""
    row = await conn.fetchrow(
        f"SELECT {scans}{_TREE_COLUMNS} FROM trees WHERE tree_id = $1 FOR UPDATE", tree_id)
    if row is None:
        raise StorageError(f"tree {tree_id} does not exist")
    return _tree(row)


async def update_tree_head(
    conn: Connection, tree_id: int, old_size: int, new_size: int, root_hash: bytes, checkpoint: str
) -> None:
    """Move the tree head from `old_size` to `new_size` (compare-and-swap on size).

    Requires old_size <= new_size.  A frozen tree may be re-signed at its size
    but not grown.  Raises StorageError if the stored size is not `old_size`
    (another writer moved it: the caller's view is stale) or the tree is frozen.
    """
    if new_size < old_size:
        raise StorageError(f"tree {tree_id} cannot shrink from {old_size} to {new_size}")
    status = await guarded(conn.execute(
        "UPDATE trees SET size = $3, root_hash = $4, checkpoint = $5 "
        "WHERE tree_id = $1 AND size = $2 AND (state = 'active' OR $3 = $2)",
        tree_id, old_size, new_size, root_hash, checkpoint,
    ))
    if status != "UPDATE 1":
        raise StorageError(f"tree {tree_id} head is not at size {old_size}, or the tree is frozen")


# ---- entries -------------------------------------------------------------------------


async def insert_entries(conn: Connection, rows: Sequence[EntryRow]) -> None:
    """Insert entries with their search keys (one COPY).  Raises StorageError on a
    taken index.  A duplicate leaf is the caller's to rule out (under the tree
    lock, as batch_write.find_leaves_and_tiles does): no unique index checks it."""
    if not rows:
        return
    # COPY: one round trip and no per-row statement overhead, for 100s of rows.
    await guarded(conn.copy_records_to_table(
        "entries",
        records=[
            (r.tree_id, r.leaf_index, r.leaf_hash,
             encode_body(r.body) if r.stored_body is None else r.stored_body,
             r.integrated_time, r.attestation, r.signed_entry_timestamp,
             key_hashes(r.search_keys))
            for r in rows
        ],
        columns=(*_ENTRY_COLUMNS, "search_keys"),
    ))


async def get_entry_by_index(conn: Connection, tree_id: int, leaf_index: int) -> EntryRow | None:
    """The entry at `leaf_index` of the tree, or None."""
    row = await conn.fetchrow(
        f"SELECT {_ENTRY_SELECT} FROM entries e WHERE e.tree_id = $1 AND e.leaf_index = $2",
        tree_id, leaf_index,
    )
    return _entry(row) if row is not None else None


async def integrated_times(conn: Connection, tree_id: int, leaf_indexes: Sequence[int]
                           ) -> dict[int, int]:
    """leaf index -> integrated time, for those of `leaf_indexes` the tree holds."""
    rows = await conn.fetch(
        "SELECT leaf_index, integrated_time FROM entries "
        "WHERE tree_id = $1 AND leaf_index = ANY($2::bigint[])", tree_id, list(leaf_indexes))
    return {int(r["leaf_index"]): int(r["integrated_time"]) for r in rows}


async def read_entry_bodies(conn: Connection, tree_id: int, start: int, end: int) -> list[bytes]:
    """The canonical bodies of leaves start, start+1, ..., end-1, in order (one query).

    Requires 0 <= start <= end.  Raises StorageError if any of them is missing:
    callers ask only for leaves below a tree size they read.
    """
    if start == end:
        return []
    rows = await conn.fetch(
        "SELECT body FROM entries WHERE tree_id = $1 AND leaf_index >= $2 AND leaf_index < $3 "
        "ORDER BY leaf_index",
        tree_id, start, end,
    )
    if len(rows) != end - start:
        raise StorageError(f"tree {tree_id} holds {len(rows)} of leaves [{start}, {end})")
    return [decode_body(r["body"]) for r in rows]


# ---- search keys ---------------------------------------------------------------------


async def find_index_entries(conn: Connection, keys: Sequence[str], api_major: int = 1
                             ) -> list[tuple[str, int, int, bytes]]:
    """(key, tree_id, leaf_index, leaf_hash) of every entry holding one of `keys`, in
    the trees of Rekor API `api_major`.

    Search keys are written with their entry, so every row found names a
    committed entry inside the tree head.  Keys are matched by their stored
    hashes (storage/search_keys.py says why that is exact)."""
    if not keys:
        return []
    wanted: dict[Any, list[str]] = {}
    for key in dict.fromkeys(keys):
        wanted.setdefault(key_hash(key), []).append(key)
    rows = await conn.fetch(
        "SELECT e.tree_id, e.leaf_index, e.leaf_hash, e.search_keys FROM entries e "
        "JOIN trees t ON t.tree_id = e.tree_id AND t.api_major = $2 "
        "WHERE e.search_keys && $1::uuid[]",
        list(wanted), api_major,
    )
    return [(key, r["tree_id"], r["leaf_index"], bytes(r["leaf_hash"]))
            for r in rows for stored in r["search_keys"] for key in wanted.get(stored, ())]


# ---- tiles ---------------------------------------------------------------------------

# One statement for a whole batch.  `cur` pairs each write with the stored
# tile's length (0: no tile yet).  A write starting at 0 creates the tile, a
# write starting at the stored end appends to it; any other write touches
# nothing and comes back in the final SELECT, so the caller raises and the
# transaction rolls back.  All CTEs see one snapshot, and the tree lock keeps
# other writers out, so the lengths cannot change under us.
# Appending hashes to tiles, as CTEs over the writes $2..$5 of tree $1 (w: the
# writes, cur: each with the bytes its tile holds, created/grown: the two kinds of
# write); TILE_VERDICT and TILE_MISFIT select how many applied and the first write
# that does not start where its tile ends.  batch_write.py builds on the same text.
TILE_CTES = """
w AS (
    SELECT * FROM unnest($2::smallint[], $3::bigint[], $4::integer[], $5::bytea[])
        AS w(level, tile_index, start, hashes)
), cur AS (
    SELECT w.*, coalesce(length(t.hashes), 0) AS stored
    FROM w LEFT JOIN tiles t
        ON t.tree_id = $1 AND t.level = w.level AND t.tile_index = w.tile_index
), created AS (
    INSERT INTO tiles (tree_id, level, tile_index, hashes)
    SELECT $1, level, tile_index, hashes FROM cur WHERE start = 0 AND stored = 0
    RETURNING 1
), grown AS (
    UPDATE tiles t SET hashes = t.hashes || cur.hashes
    FROM cur
    WHERE t.tree_id = $1 AND t.level = cur.level AND t.tile_index = cur.tile_index
        AND cur.start > 0 AND cur.stored = cur.start * 32  -- 32 = HASH_SIZE
    RETURNING 1
)"""
TILE_VERDICT = """(SELECT count(*) FROM created) + (SELECT count(*) FROM grown) AS applied,
       bad.level, bad.tile_index, bad.start, bad.stored"""
TILE_MISFIT = """FROM (SELECT 1) AS one LEFT JOIN LATERAL (
    SELECT level, tile_index, start, stored FROM cur WHERE stored <> start * 32 LIMIT 1
) AS bad ON true"""
_APPEND_TILES = f"WITH {TILE_CTES}\nSELECT {TILE_VERDICT}\n{TILE_MISFIT}"


async def append_tile_hashes(conn: Connection, tree_id: int, writes: Sequence[TileWriteLike]) -> None:
    """Write new hashes at the end of C2SP tiles: write w sets positions w.start, w.start+1, ...

    Requires an open transaction, at most one write per (level, index), and
    each write's hashes to be whole 32-byte hashes that fit in a 256-hash tile.
    Raises StorageError if a stored tile does not hold exactly w.start hashes
    (the new hashes would not extend it: a forked or corrupt tree); the
    transaction must then be rolled back.
    """
    if not writes:
        return
    require_transaction(conn, "append_tile_hashes")
    check_tile_writes(writes)
    row = await guarded(conn.fetchrow(_APPEND_TILES, tree_id, *tile_write_arrays(writes)))
    assert row is not None  # the statement always returns exactly one row
    check_tiles_applied(row, tree_id, len(writes))


def tile_write_arrays(writes: Sequence[TileWriteLike]) -> tuple[list[int], list[int], list[int],
                                                                  list[bytes]]:
    """The parameters $2..$5 of TILE_CTES."""
    return ([w.level for w in writes], [w.index for w in writes], [w.start for w in writes],
            [w.hashes for w in writes])


def check_tiles_applied(row: Record, tree_id: int, writes: int) -> None:
    """Raise StorageError unless TILE_VERDICT says every write applied."""
    if row["level"] is not None:
        raise StorageError(
            f"tile ({row['level']}, {row['tile_index']}) of tree {tree_id} holds "
            f"{row['stored'] // HASH_SIZE} hashes, a write starts at {row['start']}"
        )
    if row["applied"] != writes:
        raise StorageError(f"tile write to tree {tree_id} applied {row['applied']} of {writes}")


async def read_tiles(
    conn: Connection, tree_id: int, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Read tiles by (level, index) in one query; missing tiles are absent from the result."""
    if not keys:
        return {}
    wanted = _unique(keys)
    if len(wanted) == 1:
        # The usual case on the read path; the unnest() join below is planned anew on
        # every call, this one once.
        (level, index), = wanted
        hashes = await conn.fetchval(
            "SELECT hashes FROM tiles WHERE tree_id = $1 AND level = $2 AND tile_index = $3",
            tree_id, level, index)
        return {} if hashes is None else {(level, index): bytes(hashes)}
    rows = await conn.fetch(
        "SELECT t.level, t.tile_index, t.hashes FROM unnest($2::smallint[], $3::bigint[]) AS k(level, tile_index) "
        "JOIN tiles t ON t.tree_id = $1 AND t.level = k.level AND t.tile_index = k.tile_index",
        tree_id, [k[0] for k in wanted], [k[1] for k in wanted],
    )
    return {(r["level"], r["tile_index"]): bytes(r["hashes"]) for r in rows}


# list_trees' order, for the statements that read trees with entries.
_ORDER_TREES = "ORDER BY virtual_offset, state = 'active', created_at"


# The log's trees, and every entry of theirs with the leaf hash(es) $2: what a read by
# UUID needs, in ONE statement (one snapshot, no transaction).  A single hash is
# matched with = $2, for which PostgreSQL settles on one generic plan; with an array
# (= ANY, a bitmap scan of the hash index) it plans every call anew (~0.2 ms of its
# CPU), as it does for any array parameter whose length it cannot know.
def _trees_with_leaves(match: str) -> str:
    return f"""
SELECT * FROM (
    SELECT {_TREE_SELECT}, {_ENTRY_SELECT_BESIDE}
    FROM trees t LEFT JOIN entries e ON false
    WHERE t.api_major = $1
    UNION ALL
    SELECT {_TREE_SELECT}, {_ENTRY_SELECT_BESIDE}
    FROM entries e JOIN trees t ON t.tree_id = e.tree_id AND t.api_major = $1
    WHERE {match}
) r
{_ORDER_TREES}, leaf_index
"""


_TREES_WITH_LEAF = _trees_with_leaves("e.leaf_hash = $2")
_TREES_WITH_LEAVES = _trees_with_leaves("e.leaf_hash = ANY($2::bytea[])")


async def read_trees_with_leaf_hashes(conn: Connection, api_major: int,
                                      leaf_hashes: Sequence[bytes]
                                      ) -> tuple[list[TreeRow], list[EntryRow]]:
    """list_trees(api_major), with, as of the same snapshot, every entry of those trees
    whose leaf hash is one of `leaf_hashes`, by tree then index, in one query."""
    wanted = _unique(leaf_hashes)
    rows = await (conn.fetch(_TREES_WITH_LEAF, api_major, wanted[0]) if len(wanted) == 1
                  else conn.fetch(_TREES_WITH_LEAVES, api_major, wanted))
    return _trees_of(rows), [_entry(r) for r in rows if r["leaf_hash"] is not None]


async def read_tile_range(conn: Connection, tree_id: int, level: int, start: int, end: int
                          ) -> dict[tuple[int, int], bytes]:
    """The stored tiles of `level` with start <= index < end (a range scan of the
    primary key: what warming a cache reads, many tiles a statement)."""
    rows = await conn.fetch(
        "SELECT tile_index, hashes FROM tiles WHERE tree_id = $1 AND level = $2 "
        "AND tile_index >= $3 AND tile_index < $4", tree_id, level, start, end)
    return {(level, r["tile_index"]): bytes(r["hashes"]) for r in rows}


# The log's trees, and beside the row of tree $2 its entries at the leaves $3: a read's
# head and the entries it proves, in ONE statement, hence one snapshot, one round trip
# and no transaction, for a batch of reads (log/read_batch.py).  The tree order is
# list_trees'.  PostgreSQL plans a statement with array parameters anew on every call
# (~0.2 ms of its CPU) unless it prefers the generic plan: it does once the leaf array
# is padded (read_trees_with) and the statement has no tile arrays (EXPLAIN at 10M
# entries: 0.24 ms planning with them, 0.04 without), so reads that need no tiles,
# nearly all once the tile cache is warm, use this statement alone.
_TREES_AND_ENTRIES = f"""
    SELECT {_TREE_SELECT}, {_ENTRY_SELECT_BESIDE},
           NULL::bytea AS tile, NULL::smallint AS tile_level, NULL::bigint AS tile_index
    FROM trees t
    LEFT JOIN entries e ON t.tree_id = $2 AND e.tree_id = $2
        AND e.leaf_index = ANY($3::bigint[])
    WHERE t.api_major = $1
"""
_TREES_WITH_NO_TILES = _TREES_AND_ENTRIES + _ORDER_TREES
# The same with rows of tree $2's tiles at levels $4 and indexes $5 (every pairing:
# the caller keeps the pairs it asked for).
_TREES_WITH = f"""
SELECT * FROM ({_TREES_AND_ENTRIES}
    UNION ALL
    SELECT {_TREE_SELECT}, {_ENTRY_SELECT_BESIDE}, tl.hashes, tl.level, tl.tile_index
    FROM trees t
    LEFT JOIN entries e ON false
    JOIN tiles tl ON tl.tree_id = $2 AND tl.level = ANY($4::smallint[])
        AND tl.tile_index = ANY($5::bigint[])
    WHERE t.tree_id = $2 AND t.api_major = $1
) r
{_ORDER_TREES}
"""


_MIN_LEAF_ARRAY = 16


async def read_trees_with(
    conn: Connection, api_major: int, tree_id: int, leaf_indexes: Sequence[int],
    tiles: Sequence[tuple[int, int]],
) -> tuple[list[TreeRow], dict[int, EntryRow], dict[tuple[int, int], bytes]]:
    """list_trees(api_major), with, as of the same snapshot, tree `tree_id`'s entries at
    `leaf_indexes` and its tiles `tiles` (level, index), by leaf index and by tile key
    (those absent are absent), in one query."""
    wanted = set(tiles)
    levels = sorted({level for level, _ in wanted})
    indexes = sorted({index for _, index in wanted})
    # Padded with -1 (no leaf's index) to at least _MIN_LEAF_ARRAY: with fewer than
    # the 10 elements its generic plan assumes, PostgreSQL prefers planning anew.
    leaves = list(leaf_indexes)
    leaves += [-1] * (_MIN_LEAF_ARRAY - len(leaves))
    rows = await (conn.fetch(_TREES_WITH, api_major, tree_id, leaves, levels, indexes) if wanted
                  else conn.fetch(_TREES_WITH_NO_TILES, api_major, tree_id, leaves))
    entries: dict[int, EntryRow] = {}
    hashes: dict[tuple[int, int], bytes] = {}
    for r in rows:
        if r["tree_id"] != tree_id:
            continue
        if r["leaf_hash"] is not None:
            entries[r["leaf_index"]] = _entry(r)  # its columns beside its tree's
        if r["tile"] is not None and (key := (r["tile_level"], r["tile_index"])) in wanted:
            hashes[key] = bytes(r["tile"])
    return _trees_of(rows), entries, hashes


def check_tile_writes(writes: Sequence[TileWriteLike]) -> None:
    seen: set[tuple[int, int]] = set()
    for w in writes:
        key = (w.level, w.index)
        count, rest = divmod(len(w.hashes), HASH_SIZE)
        if key in seen or w.level < 0 or w.index < 0 or w.start < 0 or rest or not count:
            raise StorageError(f"bad tile write to {key}: start {w.start}, {len(w.hashes)} bytes")
        if w.start + count > _TILE_WIDTH:
            raise StorageError(f"tile write to {key} overflows the tile: start {w.start}, {count} hashes")
        seen.add(key)


# ---- helpers -------------------------------------------------------------------------


def require_transaction(conn: Connection, what: str) -> None:
    if not conn.is_in_transaction():
        raise StorageError(f"{what} needs an open transaction")


async def guarded(awaitable: Awaitable[_T]) -> _T:
    """Await a write; turn constraint violations (bugs or corruption here) into StorageError."""
    try:
        return await awaitable
    except asyncpg.IntegrityConstraintViolationError as e:
        raise StorageError(f"constraint violated: {e.constraint_name or e.sqlstate}") from e


def _unique(items: Sequence[_H]) -> list[_H]:
    return list(dict.fromkeys(items))


def _tree(r: Record) -> TreeRow:
    return TreeRow(
        tree_id=r["tree_id"], origin=r["origin"], state=r["state"], size=r["size"],
        root_hash=bytes(r["root_hash"]), checkpoint=r["checkpoint"], api_major=r["api_major"],
        virtual_offset=r["virtual_offset"],
        log_id=bytes(r["log_id"]) if r["log_id"] is not None else None,
        created_at=r["created_at"],
    )


def _trees_of(rows: Sequence[Record]) -> list[TreeRow]:
    """The trees of rows that carry a tree's columns (several rows may share one), in
    the rows' order."""
    trees: dict[int, TreeRow] = {}
    for r in rows:
        if r["tree_id"] not in trees:
            trees[r["tree_id"]] = _tree(r)
    return list(trees.values())


def _entry(r: Record) -> EntryRow:
    attestation, stored_set = r["attestation"], r["signed_entry_timestamp"]
    return EntryRow(
        tree_id=r["tree_id"], leaf_index=r["leaf_index"], leaf_hash=bytes(r["leaf_hash"]),
        body=decode_body(r["body"]), integrated_time=r["integrated_time"],
        attestation=bytes(attestation) if attestation is not None else None,
        signed_entry_timestamp=bytes(stored_set) if stored_set is not None else None,
    )
