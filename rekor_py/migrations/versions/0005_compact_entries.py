"""Compact entries: bodies deflated, search keys hashed into the entry's row,
a hash index for leaf hashes, no kind/api_version columns.

At 10M synthetic hashedrekord entries (557 B bodies, two search keys each) the
schema of 0001 stored body + 874 B an entry (bench/README.md, "Storage"): the
`index_keys` rows and their primary key 594 B, the unique btree over
(leaf_hash, tree_id) 88 B, kind and api_version ~20 B, and the body as is
(PostgreSQL compresses only values over ~2 KB).  Now:

- `entries.body` holds the body as storage/body_codec.py encodes it (deflated
  with a preset dictionary, or as is: a body starting with `{`);
- `entries.search_keys` holds the entry's keys hashed (storage/search_keys.py),
  under a GIN index, and `index_keys` is gone;
- `ix_entries_leaf_hash` is a hash index (the sequencer checks duplicates under
  the tree lock; it was the unique constraint's job too);
- kind and api_version are read from the body when needed (nothing reads them
  from the table).

The upgrade writes a new `entries` table from the old one and its keys (one
streamed pass: the rows are deflated here, in Python, in pages), then builds the
primary key, the hash index and the constraints over the loaded rows (cheaper
than row by row; the GIN index is the exception, see upgrade()).  Like every
migration it is one transaction: interrupted, it leaves the old tables as they were.

The downgrade is refused: the search keys' text is not kept (that is the
saving), so index_keys could not be rebuilt.  Restore a backup instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import op
from sqlalchemy.util import await_only

# Both formats are frozen (a changed codec gets a new format byte), so the code
# of today writes what later code still reads.
from rekor_py.storage.body_codec import encode_body
from rekor_py.storage.search_keys import key_hashes

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows per FETCH (~17 MB of bodies at Fulcio sizes), and per COPY: each COPY leaves
# the pages it extended the table by in advance (up to 64) empty, ~5% of the heap
# in COPYs of 10,000 rows, ~0.5% in COPYs of 100,000 (deflated: ~30 to 110 MB).
_FETCH = 10_000
_COPY = 100_000

_COLUMNS = ("tree_id", "leaf_index", "integrated_time", "leaf_hash", "body", "search_keys",
            "attestation")

# The old rows in primary-key order, each with its keys (index_keys has no index
# by entry: one sorted aggregate over it, merged with the entries).
_OLD_ROWS = """
SELECT e.tree_id, e.leaf_index, e.integrated_time, e.leaf_hash, e.body, e.attestation,
       k.keys
FROM entries e LEFT JOIN (
    SELECT tree_id, leaf_index, array_agg(key) AS keys FROM index_keys
    GROUP BY tree_id, leaf_index
) k ON k.tree_id = e.tree_id AND k.leaf_index = e.leaf_index
ORDER BY e.tree_id, e.leaf_index
"""


def upgrade() -> None:
    op.execute("""
        CREATE TABLE entries_new (
            tree_id bigint NOT NULL,
            leaf_index bigint NOT NULL,
            integrated_time bigint NOT NULL,
            leaf_hash bytea NOT NULL,
            body bytea NOT NULL,
            search_keys uuid[],
            attestation bytea
        )""")
    # The driver's own connection, for COPY, which SQLAlchemy's facade does not
    # offer; it is inside the migration's transaction.
    conn: Any = op.get_bind().connection.driver_connection
    # The GIN index before the rows: inserted one entry at a time its pages end up
    # ~70% full, built by CREATE INDEX from sorted keys ~50% (74 B/entry, not 56).
    op.execute("CREATE INDEX ix_entries_search_keys_new ON entries_new USING gin (search_keys) "
               "WITH (fastupdate = off)")
    await_only(conn.execute(f"DECLARE old_rows NO SCROLL CURSOR FOR {_OLD_ROWS}"))
    pending: list[tuple[Any, ...]] = []
    while True:
        rows = await_only(conn.fetch(f"FETCH {_FETCH} FROM old_rows"))
        pending.extend(
            (r["tree_id"], r["leaf_index"], r["integrated_time"], r["leaf_hash"],
             encode_body(r["body"]), key_hashes(r["keys"] or ()), r["attestation"])
            for r in rows)
        if pending and (len(pending) >= _COPY or not rows):
            await_only(conn.copy_records_to_table("entries_new", columns=_COLUMNS,
                                                  records=pending))
            pending = []
        if not rows:
            break
    await_only(conn.execute("CLOSE old_rows"))
    op.execute("DROP TABLE index_keys")
    op.execute("DROP TABLE entries")
    op.execute("ALTER TABLE entries_new RENAME TO entries")
    op.execute("ALTER TABLE entries ADD CONSTRAINT pk_entries PRIMARY KEY (tree_id, leaf_index)")
    op.execute("ALTER TABLE entries ADD CONSTRAINT fk_entries_tree_id_trees "
               "FOREIGN KEY (tree_id) REFERENCES trees (tree_id)")
    op.execute("ALTER TABLE entries ADD CONSTRAINT ck_entries_leaf_index CHECK (leaf_index >= 0)")
    op.execute("ALTER TABLE entries ADD CONSTRAINT ck_entries_leaf_hash "
               "CHECK (length(leaf_hash) = 32)")
    op.execute("CREATE INDEX ix_entries_leaf_hash ON entries USING hash (leaf_hash)")
    op.execute("ALTER INDEX ix_entries_search_keys_new RENAME TO ix_entries_search_keys")
    op.execute("ANALYZE entries")


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0005 cannot be downgraded: search keys are stored hashed, so the text "
        "that index_keys held is gone; restore a backup taken before the upgrade")
