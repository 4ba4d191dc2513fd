"""Trees of both Rekor APIs: a v1 tree and a v2 tree may both be active.

A Rekor v2 log (c2sp tlog-tiles, hashedrekord 0.0.2 entries, a checkpoint
named by the bare URL and signed with Ed25519) is its own Merkle tree, served
by the same process and stored in the same tables as the v1 tree.  Each tree
records which API it serves (`api_major`, 1 or 2; every existing tree is a v1
tree), and the one-active-tree rule becomes one active tree per API.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("trees", sa.Column("api_major", sa.SmallInteger(), nullable=False,
                                     server_default=sa.text("1")))
    op.create_check_constraint(op.f("ck_trees_api_major"), "trees", "api_major IN (1, 2)")
    op.drop_index(op.f("uq_trees_one_active"), table_name="trees")
    op.create_index(
        op.f("uq_trees_one_active"),
        "trees",
        ["api_major"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )


def downgrade() -> None:
    op.drop_index(op.f("uq_trees_one_active"), table_name="trees")
    op.execute("DELETE FROM trees WHERE api_major = 2 AND size = 0")
    op.create_index(
        op.f("uq_trees_one_active"),
        "trees",
        ["state"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.drop_constraint(op.f("ck_trees_api_major"), "trees", type_="check")
    op.drop_column("trees", "api_major")
