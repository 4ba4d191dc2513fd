"""Alembic environment for rekor-py.

Migrations run only through rekor_py.storage.migrate.migrate(), which opens the
connection (SQLAlchemy's asyncpg engine), takes the migration advisory lock and
hands the connection in as `config.attributes["connection"]`.  This file never
connects by itself: there is no alembic.ini and no URL to read, so running the
`alembic` command line directly fails loudly instead of migrating some default
database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from rekor_py.storage.tables import metadata

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # One transaction for the whole upgrade: PostgreSQL has transactional
        # DDL, so a failed migration leaves the schema as it was.
        transaction_per_migration=False,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("rekor-py migrations run online only, through rekor_py.storage.migrate")

_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations with rekor_py.storage.migrate.migrate(dsn), not the alembic CLI")
_run(_connection)
