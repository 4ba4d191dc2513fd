"""A witness's state: for each log (by origin), the checkpoint it last cosigned.

Kept in PostgreSQL, in a schema of its own (`witness`), so a witness can share
a database with a log without touching the log's tables or migrations.  The
schema is made at start by idempotent DDL (two statements; a witness has one
table, and nothing to migrate yet).  `advance` checks the old size and stores
the new head in one transaction, under the row's lock, so two racing requests
can never move the state back (c2sp.org/tlog-witness asks for exactly that).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rekor_py import merkle

__all__ = ["Advance", "Stored", "WitnessStore"]

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS witness",
    "CREATE TABLE IF NOT EXISTS witness.logs ("
    " origin text PRIMARY KEY,"
    " size bigint NOT NULL CHECK (size >= 0),"
    " root_hash bytea NOT NULL CHECK (length(root_hash) = 32),"
    " checkpoint text NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
)


@dataclass(frozen=True)
class Stored:
    size: int
    root_hash: bytes


@dataclass(frozen=True)
class Advance:
    """What `advance` decided: `stored` is the state before; `done` says whether the
    new head was stored (or was already the stored one)."""

    stored: Stored
    done: bool


class WitnessStore:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def create(self) -> None:
        async with self._pool.acquire() as conn:
            for statement in _DDL:
                await conn.execute(statement)

    async def get(self, origin: str) -> Stored:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT size, root_hash FROM witness.logs WHERE origin = $1", origin)
        return _stored(row)

    async def advance(self, origin: str, old: int, size: int, root_hash: bytes,
                      checkpoint: str, check: Callable[[Stored], Awaitable[None]]) -> Advance:
        """Under the origin's row lock: if the stored size is `old`, run `check(stored)`
        (which raises to refuse: a bad proof, another root at the same size) and
        store the new head.  Commits before returning."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO witness.logs (origin, size, root_hash, checkpoint) "
                "VALUES ($1, 0, $2, '') ON CONFLICT (origin) DO NOTHING",
                origin, merkle.EMPTY_ROOT)
            stored = _stored(await conn.fetchrow(
                "SELECT size, root_hash FROM witness.logs WHERE origin = $1 FOR UPDATE",
                origin))
            if stored.size != old:
                return Advance(stored, False)
            await check(stored)
            if size != stored.size or root_hash != stored.root_hash:
                await conn.execute(
                    "UPDATE witness.logs SET size = $2, root_hash = $3, checkpoint = $4, "
                    "updated_at = now() WHERE origin = $1", origin, size, root_hash, checkpoint)
        return Advance(stored, True)


def _stored(row: Any) -> Stored:
    if row is None:
        return Stored(0, merkle.EMPTY_ROOT)
    return Stored(row["size"], bytes(row["root_hash"]))
