"""The server's database role: read and write the log's rows, nothing more.

Migrations (DDL) run as a role allowed to change the schema: the embedded
PostgreSQL's superuser, or `--migrate-database-url`'s role.  The server's own
connections use another role, which `provision_server_role` creates when
missing (no SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS) and
grants exactly what the server does: SELECT, INSERT and UPDATE on the log's
tables.  It owns no table, so it cannot ALTER, DROP or TRUNCATE them, DELETE
nothing, and read no catalog secret (pg_authid): a server compromised through
a request can append to the log but not rewrite or destroy it.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import asyncpg  # type: ignore[import-untyped]

from rekor_py.storage.db import quote_ident

__all__ = ["dsn_role", "provision_server_role"]

# Serializes provisioning between server processes that start at once
# (CREATE ROLE is not idempotent).  b"rekorrol" as a big-endian int64.
_ROLE_LOCK_KEY = int.from_bytes(b"rekorrol", "big", signed=True)

_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"


def dsn_role(dsn: str) -> tuple[str, str | None]:
    """The (user, password) a postgresql:// URL connects as."""
    parts = urlsplit(dsn)
    if not parts.username:
        raise ValueError("the database URL names no user")
    password = unquote(parts.password) if parts.password is not None else None
    return unquote(parts.username), password


async def provision_server_role(admin_dsn: str, server_dsn: str, *,
                                reset_password: bool = False) -> None:
    """Make `server_dsn`'s role able to serve the log that `admin_dsn` migrated.

    A missing role is created (with the URL's password); an existing one keeps
    its attributes, and its password too unless `reset_password` (the embedded
    PostgreSQL, whose password file is the truth).  A role that is a superuser
    or the admin role itself is left alone: the operator chose it.
    """
    role, password = dsn_role(server_dsn)
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _ROLE_LOCK_KEY)
            if role == await conn.fetchval("SELECT current_user"):
                return
            row = await conn.fetchrow("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
            if row is not None and row["rolsuper"]:
                return
            ident = quote_ident(role)
            # DDL takes no bound parameters: quote the password as a literal.
            secret = "" if password is None else " PASSWORD " + await conn.fetchval(
                "SELECT quote_literal($1::text)", password)
            if row is None:
                await conn.execute(f"CREATE ROLE {ident} {_ROLE_ATTRIBUTES}{secret}")
            elif reset_password and secret:
                await conn.execute(f"ALTER ROLE {ident} {_ROLE_ATTRIBUTES}{secret}")
            database = quote_ident(await conn.fetchval("SELECT current_database()"))
            await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {ident}")
            await conn.execute(f"GRANT USAGE ON SCHEMA public TO {ident}")
            # Every table of the schema, so a later migration's tables are granted too.
            await conn.execute(
                f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {ident}")
            await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ident}")
            # The schema version is the migrations' business: the server only reads it.
            if await conn.fetchval("SELECT to_regclass('public.alembic_version')") is not None:
                await conn.execute(f"REVOKE INSERT, UPDATE ON alembic_version FROM {ident}")
    finally:
        await conn.close()
