"""Shards: a tree's place in the log's virtual index, and the key that signs it.

Rekor v1 rotates its log into shards: the active tree is frozen (its last
signed checkpoint is its final one) and a new tree takes the new entries.
Clients see one log: an entry's `logIndex` is its index across the shards, so
each tree records where it starts (`virtual_offset`, the sizes of the shards
before it summed).  A new shard may be signed with a new key, so each tree
records its key (`log_id`, SHA-256 of the key's SubjectPublicKeyInfo; NULL for
a tree created before this revision: the server's configured key signs it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("trees", sa.Column("virtual_offset", sa.BigInteger(), nullable=False,
                                     server_default=sa.text("0")))
    op.add_column("trees", sa.Column("log_id", sa.LargeBinary(), nullable=True))
    op.create_check_constraint(op.f("ck_trees_virtual_offset"), "trees", "virtual_offset >= 0")
    op.create_check_constraint(op.f("ck_trees_log_id"), "trees",
                               "log_id IS NULL OR length(log_id) = 32")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_trees_log_id"), "trees", type_="check")
    op.drop_constraint(op.f("ck_trees_virtual_offset"), "trees", type_="check")
    op.drop_column("trees", "log_id")
    op.drop_column("trees", "virtual_offset")
