"""Witness cosignatures of the log's checkpoints, and the heads published after
witnessing (c2sp.org/tlog-witness).

When witnesses are configured, the log sends each new checkpoint to them and
keeps every valid cosignature (`cosignatures`); a head is *published* (served
at the tile API's checkpoint path, with its cosignatures) once its witnessing
round ended (`witnessed_heads`: `quorum` says whether the policy's quorum
cosigned it).  Both are append-only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "witnessed_heads",
        sa.Column("tree_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("quorum", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("tree_id", "size", name=op.f("pk_witnessed_heads")),
        sa.ForeignKeyConstraint(["tree_id"], ["trees.tree_id"],
                                name=op.f("fk_witnessed_heads_tree_id_trees")),
        sa.CheckConstraint("length(root_hash) = 32", name=op.f("ck_witnessed_heads_root_hash")),
    )
    op.create_table(
        "cosignatures",
        sa.Column("tree_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("key_id", sa.LargeBinary(), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_id", "size", "witness", "key_id",
                                name=op.f("pk_cosignatures")),
        sa.ForeignKeyConstraint(["tree_id", "size"],
                                ["witnessed_heads.tree_id", "witnessed_heads.size"],
                                name=op.f("fk_cosignatures_tree_id_witnessed_heads")),
    )


def downgrade() -> None:
    op.drop_table("cosignatures")
    op.drop_table("witnessed_heads")
