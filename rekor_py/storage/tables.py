"""The PostgreSQL schema of the log, as SQLAlchemy Core metadata.

This module owns the *description* of the tables: names, types, keys and CHECK
constraints.  It is the reference that the Alembic migrations in migrations/ are
tested against (tests/integration/test_storage.py compares the two), but nothing
creates tables from it at run time: schema changes go through migrations, and
queries are written in SQL in log_store.py and run with asyncpg.

Constraint names follow `NAMING_CONVENTION`, so that a migration can refer to a
constraint by a name that does not depend on how it was created.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    UUID,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)

__all__ = [
    "HASH_SIZE",
    "MAX_TILE_BYTES",
    "NAMING_CONVENTION",
    "cosignatures",
    "entries",
    "metadata",
    "tiles",
    "trees",
    "witnessed_heads",
]

# Duplicated from rekor_py.merkle on purpose: the schema must not import the C
# extension, and these numbers are fixed by RFC 6962 (SHA-256) and C2SP
# tlog-tiles (tiles of 2**8 hashes), not by our engine.
HASH_SIZE = 32
MAX_TILE_BYTES = 256 * HASH_SIZE

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# One row per tree (shard).  `size`, `root_hash` and `checkpoint` always move
# together, under compare-and-swap on `size` (log_store.update_tree_head), so a
# reader never sees a checkpoint for a tree the tiles do not hold yet.
trees = Table(
    "trees",
    metadata,
    # Rekor tree IDs are random int64s chosen by the caller, not a sequence.
    Column("tree_id", BigInteger, nullable=False, autoincrement=False),
    Column("origin", Text, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'active'")),
    Column("size", BigInteger, nullable=False, server_default=text("0")),
    Column("root_hash", LargeBinary, nullable=False),
    # The latest signed checkpoint note, exactly as served.
    Column("checkpoint", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The Rekor API the tree serves: 1 (/api/v1, Rekor checkpoints, SETs) or 2
    # (/api/v2, c2sp tlog-tiles, hashedrekord 0.0.2 only).
    Column("api_major", SmallInteger, nullable=False, server_default=text("1")),
    # Rekor shards: the virtual (log-wide) index of the tree's leaf 0, i.e. the
    # final sizes of the trees before it summed; and SHA-256 of the SPKI of the
    # key that signs the tree (NULL: the server's configured key, for trees
    # created before shards existed).
    Column("virtual_offset", BigInteger, nullable=False, server_default=text("0")),
    Column("log_id", LargeBinary, nullable=True),
    PrimaryKeyConstraint("tree_id"),
    CheckConstraint("state IN ('active', 'frozen')", name="state"),
    CheckConstraint("api_major IN (1, 2)", name="api_major"),
    CheckConstraint("size >= 0", name="size"),
    CheckConstraint(f"length(root_hash) = {HASH_SIZE}", name="root_hash"),
    CheckConstraint("virtual_offset >= 0", name="virtual_offset"),
    CheckConstraint(f"log_id IS NULL OR length(log_id) = {HASH_SIZE}", name="log_id"),
)

# At most one tree per API takes new entries (Rekor's active shard); the others
# are frozen.  A partial unique index over the active rows enforces it.
Index(
    "uq_trees_one_active",
    trees.c.api_major,
    unique=True,
    postgresql_where=text("state = 'active'"),
)

# One row per entry.  Sized for logs of billions of entries (bench/README.md,
# "Storage"): the body is stored as storage/body_codec.py encodes it (deflated
# with a preset dictionary; kind and apiVersion are read from the body), and the
# search keys as 16-byte hashes in the row (storage/search_keys.py).
entries = Table(
    "entries",
    metadata,
    Column("tree_id", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    # Seconds since the epoch, as Rekor reports it.
    Column("integrated_time", BigInteger, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
    # The canonical body (the exact bytes hashed into the leaf), in its stored form.
    Column("body", LargeBinary, nullable=False),
    # The entry's search keys, hashed; NULL when it has none.  Written with the
    # entry, so search never points at a missing entry.
    Column("search_keys", ARRAY(UUID(as_uuid=True)), nullable=True),
    Column("attestation", LargeBinary, nullable=True),
    # The entry's signed entry timestamp, signed once when it was logged, in
    # log/set.py's stored form; NULL for entries of v2 trees (no SETs) and for rows
    # logged before revision 0006 (reads sign one for them).
    Column("signed_entry_timestamp", LargeBinary, nullable=True),
    PrimaryKeyConstraint("tree_id", "leaf_index"),
    ForeignKeyConstraint(["tree_id"], ["trees.tree_id"]),
    CheckConstraint("leaf_index >= 0", name="leaf_index"),
    CheckConstraint(f"length(leaf_hash) = {HASH_SIZE}", name="leaf_hash"),
)

# Lookups by UUID across all trees (read_trees_with_leaf_hashes) and the duplicate
# check before an append (batch_write.find_leaves_and_tiles).  A hash index keeps a 4-byte hash
# code per entry (~25 B/entry, a btree over the 32-byte hash ~88); it cannot be
# unique, and need not: the sequencer looks for the leaf under the tree's row
# lock before every insert, and fsck checks that no tree holds a leaf twice.
Index("ix_entries_leaf_hash", entries.c.leaf_hash, postgresql_using="hash")
# Search (find_index_entries: search_keys && the terms' hashes).  fastupdate off:
# no pending list for every search to scan, at a little more work per insert.
Index("ix_entries_search_keys", entries.c.search_keys, postgresql_using="gin",
      postgresql_with={"fastupdate": "off"})

# C2SP tlog-tiles: tile (level, tile_index) holds up to 256 hashes, 32 bytes
# each, concatenated.  Full tiles never change; the right-edge partial tile of
# each level only ever grows (log_store.append_tile_hashes checks that).
tiles = Table(
    "tiles",
    metadata,
    Column("tree_id", BigInteger, nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("tile_index", BigInteger, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tree_id", "level", "tile_index"),
    ForeignKeyConstraint(["tree_id"], ["trees.tree_id"]),
    CheckConstraint("level >= 0", name="level"),
    CheckConstraint("tile_index >= 0", name="tile_index"),
    CheckConstraint(
        f"length(hashes) % {HASH_SIZE} = 0 AND length(hashes) BETWEEN {HASH_SIZE} AND {MAX_TILE_BYTES}",
        name="hashes",
    ),
)

# Witnessing (rekor_py/witness/): a head is published once its round of
# add-checkpoint requests ended; `quorum` says whether the policy was met.
witnessed_heads = Table(
    "witnessed_heads",
    metadata,
    Column("tree_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("quorum", Boolean, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tree_id", "size"),
    ForeignKeyConstraint(["tree_id"], ["trees.tree_id"]),
    CheckConstraint(f"length(root_hash) = {HASH_SIZE}", name="root_hash"),
)

# Each witness's verified cosignature line of a published head.
cosignatures = Table(
    "cosignatures",
    metadata,
    Column("tree_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("witness", Text, nullable=False),
    Column("key_id", LargeBinary, nullable=False),
    Column("cosigned_at", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    PrimaryKeyConstraint("tree_id", "size", "witness", "key_id"),
    ForeignKeyConstraint(["tree_id", "size"], ["witnessed_heads.tree_id", "witnessed_heads.size"]),
)
