"""fsck's read-only SQL: keyset scans and existence checks over one snapshot.

These live beside storage/log_store.py, not in it, because nothing but the
audit (rekor_py/audit/) reads the tables this way (whole-table scans, anti-joins); like
log_store, every function takes an open connection and binds every value.
The caller runs them all inside one REPEATABLE READ READ ONLY transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from rekor_py.storage.db import Connection, Record

__all__ = [
    "entries_from",
    "find_duplicate_leaf",
    "find_unexpected_tile",
    "list_trees",
    "other_clients",
    "read_tiles",
    "tree_ids_in",
]

# Tables whose primary key starts with tree_id; names are constants, never input.
_TREE_TABLES = ("entries", "tiles")


async def list_trees(conn: Connection) -> list[Record]:
    """Every tree row, by tree_id."""
    return await conn.fetch(
        "SELECT tree_id, origin, state, size, root_hash, checkpoint, api_major, virtual_offset, "
        "log_id FROM trees ORDER BY tree_id"
    )


async def entries_from(conn: Connection, tree_id: int, first: int, limit: int) -> list[Record]:
    """Up to `limit` entries of the tree with leaf_index >= first, in index order;
    bodies in their stored form (storage/body_codec.py).

    Keyset pagination over the primary key: each page is an index range scan, so
    a long log streams in pages of bounded size without a server-side cursor.
    """
    return await conn.fetch(
        "SELECT leaf_index, leaf_hash, body, integrated_time, signed_entry_timestamp "
        "FROM entries WHERE tree_id = $1 AND leaf_index >= $2 "
        "ORDER BY leaf_index LIMIT $3",
        tree_id, first, limit,
    )


async def read_tiles(conn: Connection, tree_id: int, keys: Sequence[tuple[int, int]]
                     ) -> dict[tuple[int, int], bytes]:
    """Stored tiles by (level, index), in one query; missing tiles are absent."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT t.level, t.tile_index, t.hashes FROM unnest($2::smallint[], $3::bigint[]) "
        "AS k(level, tile_index) JOIN tiles t "
        "ON t.tree_id = $1 AND t.level = k.level AND t.tile_index = k.tile_index",
        tree_id, [k[0] for k in keys], [k[1] for k in keys],
    )
    return {(r["level"], r["tile_index"]): bytes(r["hashes"]) for r in rows}


async def find_unexpected_tile(conn: Connection, tree_id: int, counts: Sequence[int]
                               ) -> Record | None:
    """The first stored tile outside the expected ones: level L has tiles 0..counts[L]-1.

    Levels past len(counts) should have no tiles at all.
    """
    return await conn.fetchrow(
        "SELECT t.level, t.tile_index, length(t.hashes) AS bytes FROM tiles t "
        "LEFT JOIN unnest($2::bigint[]) WITH ORDINALITY AS e(n, level) ON e.level - 1 = t.level "
        "WHERE t.tree_id = $1 AND (e.n IS NULL OR t.tile_index >= e.n) "
        "ORDER BY t.level, t.tile_index LIMIT 1",
        tree_id, list(counts),
    )


async def find_duplicate_leaf(conn: Connection, tree_id: int) -> Record | None:
    """A leaf hash stored at two or more indexes of the tree, with its first two indexes."""
    return await conn.fetchrow(
        "SELECT leaf_hash, min(leaf_index) AS first, "
        "(array_agg(leaf_index ORDER BY leaf_index))[2] AS second "
        "FROM entries WHERE tree_id = $1 GROUP BY leaf_hash HAVING count(*) > 1 "
        "ORDER BY min(leaf_index) LIMIT 1",
        tree_id,
    )


async def tree_ids_in(conn: Connection, table: str) -> list[int]:
    """The distinct tree_ids that rows of `table` (entries or tiles) belong to.

    A loose index scan (one probe of the primary key per tree) instead of a
    DISTINCT over every row: tree_id leads both primary keys.
    """
    if table not in _TREE_TABLES:
        raise ValueError(f"not a table keyed by tree_id first: {table}")
    rows = await conn.fetch(
        f"WITH RECURSIVE t(id) AS (SELECT min(tree_id) FROM {table} UNION ALL "
        f"SELECT (SELECT min(tree_id) FROM {table} WHERE tree_id > t.id) FROM t WHERE t.id IS NOT NULL) "
        "SELECT id FROM t WHERE id IS NOT NULL"
    )
    return [int(r["id"]) for r in rows]


async def other_clients(conn: Connection) -> int:
    """Client sessions on the server other than this one (fsck stops an embedded
    PostgreSQL it started only if none connected meanwhile)."""
    count = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()"
    )
    return int(count or 0)
