"""The initial schema: trees, entries, tiles, index_keys.

Written out op by op (not generated at run time), so that this migration keeps
creating exactly this schema however rekor_py/storage/tables.py changes later.
Every constraint name is spelled in full with op.f(), which keeps the naming
convention of the target metadata from being applied a second time.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trees",
        sa.Column("tree_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default=sa.text("'active'")),
        sa.Column("size", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tree_id", name=op.f("pk_trees")),
        sa.CheckConstraint("state IN ('active', 'frozen')", name=op.f("ck_trees_state")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_trees_size")),
        sa.CheckConstraint("length(root_hash) = 32", name=op.f("ck_trees_root_hash")),
    )
    # At most one active tree (Rekor's active shard).
    op.create_index(
        op.f("uq_trees_one_active"),
        "trees",
        ["state"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )

    op.create_table(
        "entries",
        sa.Column("tree_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("api_version", sa.Text(), nullable=False),
        sa.Column("integrated_time", sa.BigInteger(), nullable=False),
        sa.Column("attestation", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tree_id", "leaf_index", name=op.f("pk_entries")),
        sa.UniqueConstraint("leaf_hash", "tree_id", name=op.f("uq_entries_leaf_hash_tree_id")),
        sa.ForeignKeyConstraint(
            ["tree_id"], ["trees.tree_id"], name=op.f("fk_entries_tree_id_trees")
        ),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_entries_leaf_index")),
        sa.CheckConstraint("length(leaf_hash) = 32", name=op.f("ck_entries_leaf_hash")),
    )

    op.create_table(
        "tiles",
        sa.Column("tree_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("tile_index", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_id", "level", "tile_index", name=op.f("pk_tiles")),
        sa.ForeignKeyConstraint(["tree_id"], ["trees.tree_id"], name=op.f("fk_tiles_tree_id_trees")),
        sa.CheckConstraint("level >= 0", name=op.f("ck_tiles_level")),
        sa.CheckConstraint("tile_index >= 0", name=op.f("ck_tiles_tile_index")),
        sa.CheckConstraint(
            "length(hashes) % 32 = 0 AND length(hashes) BETWEEN 32 AND 8192",
            name=op.f("ck_tiles_hashes"),
        ),
    )
    # Tile hashes are random bytes: compressing them only burns CPU on every
    # rewrite of a partial tile.  EXTERNAL keeps TOAST out-of-line storage but
    # skips compression.
    op.execute("ALTER TABLE tiles ALTER COLUMN hashes SET STORAGE EXTERNAL")

    op.create_table(
        "index_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("tree_id", sa.BigInteger(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "tree_id", "leaf_index", name=op.f("pk_index_keys")),
        sa.ForeignKeyConstraint(
            ["tree_id", "leaf_index"],
            ["entries.tree_id", "entries.leaf_index"],
            name=op.f("fk_index_keys_tree_id_leaf_index_entries"),
        ),
    )


def downgrade() -> None:
    op.drop_table("index_keys")
    op.drop_table("tiles")
    op.drop_table("entries")
    op.drop_index(op.f("uq_trees_one_active"), table_name="trees")
    op.drop_table("trees")
