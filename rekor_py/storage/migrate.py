"""Bring a database's schema up to date, from code, on every start.

This module owns *applying* the Alembic migrations in rekor_py/migrations/:
the Alembic Config is built here (there is no alembic.ini), and the upgrade
runs on SQLAlchemy's asyncpg engine through `run_sync`.  The migrations
themselves live in rekor_py/migrations/versions/.

Several server processes may start at once against one database.  Each takes
the same transaction-scoped advisory lock before looking at alembic_version,
so exactly one of them upgrades and the others wait, then find the schema at
head and do nothing.  The whole upgrade is one transaction (PostgreSQL has
transactional DDL): a failed migration leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from rekor_py.storage.db import Connection, to_sqlalchemy_url

__all__ = ["MIGRATIONS_DIR", "head_revision", "migrate", "schema_revision"]

# Inside the package, so that a wheel or a plain `pip install .` carries them too.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"

# pg_advisory_xact_lock key: any fixed int64 works, as long as nothing else on
# the server uses it.  This is b"rekorpy\x01" read as a big-endian integer.
_MIGRATION_LOCK_KEY = int.from_bytes(b"rekorpy\x01", "big", signed=True)


async def migrate(dsn: str, revision: str = "head") -> None:
    """Upgrade the database at `dsn` to the newest migration (or to `revision`).

    Safe to call from several processes at once.  Raises the SQLAlchemy/asyncpg
    error if the database cannot be reached or a migration fails.
    """
    # NullPool: this engine lives for one upgrade; keep no idle connection.
    engine = create_async_engine(to_sqlalchemy_url(dsn), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            await conn.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()


def head_revision() -> str:
    """The revision id that `migrate` brings a database to."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def schema_revision(conn: Connection) -> str | None:
    """The revision the database's schema is at; None if it was never migrated."""
    try:
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.UndefinedTableError:
        return None
    return None if version is None else str(version)


def _upgrade(connection: SyncConnection, revision: str) -> None:
    # migrations/env.py picks the connection up from here: it opens none itself.
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _config() -> Config:
    config = Config()
    # Config values go through ConfigParser interpolation: escape '%' in paths.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config
