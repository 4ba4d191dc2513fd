"""The sequencer's batch under the tree lock, in as few round trips as its checks allow.

A batch appends entries, extends tiles and moves the tree head in one transaction
under the tree's row lock (log/sequencer.py).  The lock serializes every writer
of the tree, so the time it is held bounds the log's write rate, and most of that
time is round trips: each waits for PostgreSQL and then for the writer to be
scheduled again, which on a busy machine costs far more than the statement.
Measured with two server processes at ~2,000 entries/s, a batch held the lock
~5.6 ms for ~15 entries, ~0.5-0.8 ms of it per round trip (bench/README.md).

So after lock_tree (log_store), a batch takes two statements and the COMMIT:

- `find_leaves_and_tiles`: the batch's leaf hashes already in the log, and, when
  another writer appended since this one's last batch, the tiles of the new right
  edge; a statement of its own, issued after the lock is held, because in READ
  COMMITTED a statement sees only what committed before it started, and what the
  writer we waited for committed must be seen;
- `append_batch`: the entries with their search keys, the tile hashes and the
  head's compare-and-swap, as data-modifying CTEs of one statement.  They run on
  one snapshot, and only this lock holder writes the tree, so they cannot
  conflict.  Its checks are log_store's: the head moves only from the locked size,
  and tiles only grow at their end.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from rekor_py.errors import StorageError
from rekor_py.storage.body_codec import encode_body
from rekor_py.storage.db import Connection
from rekor_py.storage.log_store import (
    TILE_CTES,
    TILE_MISFIT,
    TILE_VERDICT,
    EntryRow,
    TileWriteLike,
    check_tile_writes,
    check_tiles_applied,
    guarded,
    require_transaction,
    tile_write_arrays,
)
from rekor_py.storage.search_keys import key_hashes

__all__ = ["append_batch", "find_leaves_and_tiles"]

# Leaves by hash alone, their tree compared in Python: the leaf hash index has no
# tree_id, and given `tree_id = $1` the planner may AND it with a scan of the
# primary key over the whole tree (it did on a table without statistics yet).
# Another tree's copy of an entry (a shard) is a rare extra row.  Then tiles by key.
_LEAVES_AND_TILES = """
SELECT tree_id, leaf_hash, leaf_index, NULL::smallint AS level, NULL::bytea AS hashes
FROM entries WHERE leaf_hash = ANY($2::bytea[])
UNION ALL
SELECT t.tree_id, NULL, t.tile_index, t.level, t.hashes
FROM unnest($3::smallint[], $4::bigint[]) AS k(level, tile_index)
JOIN tiles t ON t.tree_id = $1 AND t.level = k.level AND t.tile_index = k.tile_index
"""

# $1 tree, $2..$5 the tile writes (TILE_CTES), $6 the locked size, $7 the new size,
# $8 its root, $9 its checkpoint, $10.. the entries in leaf order: leaf hash, stored
# body, attestation, and where each one's search keys lie in the flat array $15
# (start, count: none is NULL, as insert_entries stores it), $16 integrated time,
# $17 the stored SETs (NULL where none).
_APPEND_BATCH = f"""
WITH {TILE_CTES}, added AS (
    INSERT INTO entries (tree_id, leaf_index, leaf_hash, body, integrated_time, attestation,
                         search_keys, signed_entry_timestamp)
    SELECT $1, $6 + r.n - 1, r.leaf_hash, r.body, $16, r.attestation,
           CASE WHEN r.key_count > 0
                THEN ($15::uuid[])[r.key_start + 1 : r.key_start + r.key_count] END,
           r.signed_entry_timestamp
    FROM unnest($10::bytea[], $11::bytea[], $12::bytea[], $13::integer[], $14::integer[],
                $17::bytea[])
        WITH ORDINALITY AS r(leaf_hash, body, attestation, key_start, key_count,
                             signed_entry_timestamp, n)
    RETURNING 1
), moved AS (
    UPDATE trees SET size = $7, root_hash = $8, checkpoint = $9
    WHERE tree_id = $1 AND size = $6 AND state = 'active'
    RETURNING 1
)
SELECT (SELECT count(*) FROM added) AS added, (SELECT count(*) FROM moved) AS moved,
       {TILE_VERDICT}
{TILE_MISFIT}
"""


async def find_leaves_and_tiles(conn: Connection, tree_id: int, leaf_hashes: Sequence[bytes],
                                tiles: Sequence[tuple[int, int]]
                                ) -> tuple[dict[bytes, int], dict[tuple[int, int], bytes]]:
    """The leaf index of each of `leaf_hashes` already in the tree, and the tiles of
    `tiles` (level, index) that exist, in one statement."""
    keys = list(dict.fromkeys(tiles))
    rows = await conn.fetch(_LEAVES_AND_TILES, tree_id, list(leaf_hashes),
                            [k[0] for k in keys], [k[1] for k in keys])
    found: dict[bytes, int] = {}
    read: dict[tuple[int, int], bytes] = {}
    for r in rows:
        if r["level"] is not None:
            read[(r["level"], r["leaf_index"])] = bytes(r["hashes"])
        elif r["tree_id"] == tree_id:
            found[bytes(r["leaf_hash"])] = r["leaf_index"]
    return found, read


async def append_batch(conn: Connection, tree_id: int, old_size: int, rows: Sequence[EntryRow],
                       writes: Sequence[TileWriteLike], root_hash: bytes,
                       checkpoint: str) -> None:
    """Insert `rows` (leaf indexes old_size, old_size + 1, ..., one integrated time),
    apply the tile writes and move the head from `old_size` to old_size + len(rows),
    in one statement.  Requires an open transaction holding the tree's lock, and
    rows none of which is in the tree (find_leaves_and_tiles).  Raises StorageError
    as insert_entries, append_tile_hashes and update_tree_head do; the transaction
    must then be rolled back."""
    require_transaction(conn, "append_batch")
    if not rows:
        raise StorageError("append_batch needs at least one entry")
    check_tile_writes(writes)
    times = {r.integrated_time for r in rows}
    if len(times) != 1 or [r.leaf_index for r in rows] != list(
            range(old_size, old_size + len(rows))) or {r.tree_id for r in rows} != {tree_id}:
        raise StorageError("a batch is one tree's consecutive leaves with one integrated time")
    starts: list[int] = []
    counts: list[int] = []
    flat: list[uuid.UUID] = []
    for r in rows:
        keys = key_hashes(r.search_keys) or []
        starts.append(len(flat))
        counts.append(len(keys))
        flat.extend(keys)
    row = await guarded(conn.fetchrow(
        _APPEND_BATCH, tree_id, *tile_write_arrays(writes), old_size, old_size + len(rows),
        root_hash, checkpoint, [r.leaf_hash for r in rows],
        [encode_body(r.body) if r.stored_body is None else r.stored_body for r in rows],
        [r.attestation for r in rows], starts, counts, flat, times.pop(),
        [r.signed_entry_timestamp for r in rows]))
    assert row is not None  # the statement always returns exactly one row
    if row["moved"] != 1:
        # Raised before the tile verdict: a moved head is why tiles would not fit.
        raise StorageError(f"tree {tree_id} head is not at size {old_size}, or the tree is frozen")
    check_tiles_applied(row, tree_id, len(writes))
    if row["added"] != len(rows):
        raise StorageError(f"batch of tree {tree_id} inserted {row['added']} of {len(rows)}")
