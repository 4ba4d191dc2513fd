"""Signed entry timestamps stored with their entries.

A SET is the log's signature over an entry's body, integrated time, log ID and
virtual index: none of those ever changes, so the SET an entry got when it was
logged is valid for as long as the entry is.  Signing a fresh one on every read
(as Rekor v1 does) cost a read by index ~10% of its CPU (bench/README.md, "Reads
at scale"); the sequencer now signs each v1 entry's SET under the tree lock,
once, and `entries.signed_entry_timestamp` keeps it in the compact form of
log/set.py (ECDSA: r || s, 64 B for P-256 against 70-72 in DER).

Rows logged before this revision, and entries of Rekor v2 trees (which have no
SET), hold NULL: reads sign a SET for them as before.  Adding a nullable column
without a default rewrites nothing, so the upgrade is instant at any size.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("signed_entry_timestamp", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # Reads sign a SET anew for every row without one: nothing is lost.
    op.drop_column("entries", "signed_entry_timestamp")
