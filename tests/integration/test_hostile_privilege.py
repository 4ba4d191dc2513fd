"""Least privilege: the server's own database connections cannot do more than the log needs.

The embedded PostgreSQL is started the way `rekor-py serve` starts it (no
database URL): migrations run as its superuser, the server's pool connects as
`rekor_py_server`, which may read and write the log's rows and nothing else.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py.config import Settings
from rekor_py.storage.embedded import SERVER_ROLE
from tests.integration.conftest import postgres_scratch_dir
from tests.integration.logserver import (
    RunningLog,
    free_port,
    post_entry,
    signed_hashedrekord,
    start_log,
)


@pytest.fixture
async def embedded_log() -> AsyncIterator[RunningLog]:
    data_dir = postgres_scratch_dir()
    data_dir.chmod(0o755)  # as root, the embedded server's own user must enter it
    log = await start_log(Settings(host="127.0.0.1", port=free_port(), data_dir=data_dir,
                                   fsync=False, batch_max_delay_ms=2.0, pool_max_size=2,
                                   verify_workers=1))
    try:
        yield log
    finally:
        await log.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_server_role_is_not_a_superuser(embedded_log: RunningLog) -> None:
    async with embedded_log.runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT current_user AS name, rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
            " rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert row["name"] == SERVER_ROLE
        assert not any(row[k] for k in ("rolsuper", "rolcreatedb", "rolcreaterole",
                                        "rolreplication", "rolbypassrls"))
        forbidden = [
            "CREATE ROLE intruder LOGIN",
            "CREATE DATABASE intruder",
            "SELECT rolpassword FROM pg_authid",
            "DROP TABLE entries",
            "TRUNCATE tiles",
            "DELETE FROM entries",
            "ALTER TABLE trees ADD COLUMN x int",
            "CREATE TABLE intruder (x int)",
            "UPDATE alembic_version SET version_num = 'x'",
            "COPY entries TO PROGRAM 'true'",
        ]
        for statement in forbidden:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    # ...and yet it serves: an entry is logged and read back.
    async with aiohttp.ClientSession() as s:
        status, body, _ = await post_entry(s, embedded_log.url, signed_hashedrekord(b"least"))
        assert status == 201, body
        async with s.get(f"{embedded_log.url}/api/v1/log/entries/{next(iter(body))}") as r:
            assert r.status == 200


async def test_password_files_are_private(embedded_log: RunningLog) -> None:
    postgres = Path(embedded_log.settings.data_dir) / "postgres"
    for name in ("superuser.password", "server.password"):
        mode = stat.S_IMODE((postgres / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
