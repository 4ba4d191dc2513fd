"""Rows of witnessing: published heads and their cosignatures (tables.py,
witnessed_heads and cosignatures).  Every function takes an open asyncpg
connection; publish_head runs its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rekor_py.storage.db import Connection

__all__ = ["CosignatureRow", "PublishedHead", "latest_published", "publish_head"]


@dataclass(frozen=True)
class CosignatureRow:
    witness: str  # the name on the witness's signature line
    key_id: bytes
    cosigned_at: int  # Unix seconds, from the cosignature
    line: str


@dataclass(frozen=True)
class PublishedHead:
    tree_id: int
    size: int
    root_hash: bytes
    quorum: bool
    cosignatures: tuple[CosignatureRow, ...]


async def publish_head(conn: Any, tree_id: int, size: int, root_hash: bytes,
                       quorum: bool, cosignatures: Sequence[CosignatureRow]) -> None:
    """Record a head whose witnessing round ended, with the cosignatures it got
    (`conn`: an asyncpg connection outside a transaction).
    Publishing the same head again (another process's round) adds what is new."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO witnessed_heads (tree_id, size, root_hash, quorum) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (tree_id, size) DO UPDATE "
            "SET quorum = witnessed_heads.quorum OR EXCLUDED.quorum "
            "WHERE witnessed_heads.root_hash = EXCLUDED.root_hash",
            tree_id, size, root_hash, quorum)
        if cosignatures:
            await conn.executemany(
                "INSERT INTO cosignatures (tree_id, size, witness, key_id, cosigned_at, line) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                [(tree_id, size, c.witness, c.key_id, c.cosigned_at, c.line)
                 for c in cosignatures])


async def latest_published(conn: Connection, tree_id: int, *, quorum_only: bool = False
                           ) -> PublishedHead | None:
    """The largest published head of the tree (with the quorum, if asked), and its
    cosignatures in witness-name order; None before the first."""
    row = await conn.fetchrow(
        "SELECT size, root_hash, quorum FROM witnessed_heads WHERE tree_id = $1 "
        "AND (quorum OR NOT $2) ORDER BY size DESC LIMIT 1", tree_id, quorum_only)
    if row is None:
        return None
    lines = await conn.fetch(
        "SELECT witness, key_id, cosigned_at, line FROM cosignatures "
        "WHERE tree_id = $1 AND size = $2 ORDER BY witness, key_id", tree_id, row["size"])
    return PublishedHead(tree_id, row["size"], bytes(row["root_hash"]), row["quorum"],
                         tuple(CosignatureRow(r["witness"], bytes(r["key_id"]),
                                              r["cosigned_at"], r["line"]) for r in lines))
