"""Real PostgreSQL for integration tests: one server per session, one database per test.

The server is an EmbeddedPostgres in a fresh temporary directory (fsync off:
tests need speed, not durability against an OS crash), or, when
REKOR_PY_TEST_DATABASE_URL is set, the external server it points at (its role
must be allowed to CREATE DATABASE).  Each test that asks for `database_url`
gets a database of its own, migrated to head, and dropped afterwards.  Nothing
here skips: if PostgreSQL cannot start, every test that needs it errors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py.storage.db import quote_ident, with_database
from rekor_py.storage.embedded import EmbeddedPostgres
from rekor_py.storage.migrate import migrate

if TYPE_CHECKING:
    from tests.integration.load import ServeProcess
    from tests.integration.logserver import RunningLog

DATABASE_URL_ENV = "REKOR_PY_TEST_DATABASE_URL"


def postgres_scratch_dir() -> Path:
    """A fresh directory for an EmbeddedPostgres, removed by the caller.

    Not pytest's tmp_path: under root that lives in /tmp/pytest-of-root (mode
    0700), which the `rekor_py_pg` user the server runs as cannot traverse.
    """
    return Path(tempfile.mkdtemp(prefix="rekor-py-test-pg-"))


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    """DSN of a superuser session on the test server (database `postgres`)."""
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        yield external
        return
    data_dir = postgres_scratch_dir()
    server = EmbeddedPostgres(data_dir, fsync=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def scratch_database(admin_dsn: str) -> AsyncIterator[str]:
    """Create a database with a unique name, yield its DSN, drop it."""
    name = f"rekor_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
    finally:
        await admin.close()
    try:
        yield with_database(admin_dsn, name)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            # FORCE: a test that failed may have left a connection open.
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
        finally:
            await admin.close()


@pytest.fixture
async def empty_database_url(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """A new, empty database (no migrations), dropped after the test."""
    async with scratch_database(postgres_admin_dsn) as dsn:
        yield dsn


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """A new database migrated to head, dropped after the test."""
    await migrate(empty_database_url)
    return empty_database_url


@pytest.fixture(scope="module")
async def database_url_module(postgres_admin_dsn: str) -> AsyncIterator[str]:
    """Like `database_url`, shared by the tests of one module (for module-scoped servers)."""
    async with scratch_database(postgres_admin_dsn) as dsn:
        await migrate(dsn)
        yield dsn


@pytest.fixture
def writers(database_url: str, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    """Three `serve` processes (not started) on one test database, sharing one data dir."""
    from tests.integration.load import ServeProcess  # noqa: PLC0415 - only these tests need it
    from tests.integration.logserver import free_port  # noqa: PLC0415

    procs = [ServeProcess(database_url, tmp_path, free_port()) for _ in range(3)]
    yield procs
    for proc in procs:
        proc.stop()


@pytest.fixture
async def running_log(database_url: str, tmp_path: Path) -> AsyncIterator[RunningLog]:
    """A log server in this process on a fresh database, default settings."""
    from tests.integration.logserver import log_settings, start_log  # noqa: PLC0415

    running = await start_log(log_settings(database_url, tmp_path))
    try:
        yield running
    finally:
        await running.stop()
