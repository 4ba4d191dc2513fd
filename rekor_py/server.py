"""Opening a log: database, schema, signing key, active tree, sequencer.

`open_log` is what `rekor-py serve` (and the integration tests) run before the
HTTP app starts: it brings up the embedded PostgreSQL when no database URL is
given, applies migrations (as the migration role) and grants the server's role
its rows (storage/roles.py), loads or creates the log key, finds or creates the
active tree, and starts the sequencer.  `LogRuntime.close` undoes it in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from rekor_py import merkle
from rekor_py.config import Settings
from rekor_py.errors import StorageError
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.sequencer import Sequencer
from rekor_py.log.service import LogService
from rekor_py.log.signer import LogSigner
from rekor_py.storage import log_store
from rekor_py.storage.db import create_pool
from rekor_py.storage.embedded import EmbeddedPostgres
from rekor_py.storage.migrate import head_revision, migrate, schema_revision
from rekor_py.storage.roles import provision_server_role

__all__ = ["LogRuntime", "open_log", "tree_checkpoint_name"]

log = logging.getLogger(__name__)

@dataclass
class LogRuntime:
    service: LogService
    pool: Any
    embedded: EmbeddedPostgres | None

    async def close(self) -> None:
        if self.service.sequencer is not None:
            await self.service.sequencer.stop()
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


def load_signer(settings: Settings) -> LogSigner:
    """--signing-key (must exist) or the data dir's key, created on first start."""
    password = settings.signing_key_password()
    if settings.signing_key is not None:
        return LogSigner.from_pem(settings.signing_key.read_bytes(), password)
    return LogSigner.load_or_create(settings.signing_key_path, password)


async def _active_tree(pool: Any, signer: LogSigner, name: str) -> log_store.TreeRow:
    """The active tree, created (random positive int63 ID, signed empty head) if none."""
    async with pool.acquire() as conn, conn.transaction():
        await log_store.lock_tree_creation(conn)
        tree = await log_store.get_active_tree(conn)
        if tree is not None:
            return tree
        tree_id = secrets.randbelow((1 << 63) - 1) + 1
        empty = Checkpoint(origin_for(name, tree_id), 0, merkle.EMPTY_ROOT)
        checkpoint = format_checkpoint(empty, signer, name)
        log.info("creating tree %d", tree_id)
        return await log_store.create_tree(conn, tree_id, empty.origin, merkle.EMPTY_ROOT,
                                           checkpoint)


async def _existing_tree(pool: Any) -> log_store.TreeRow:
    """Read-only start: the schema must be at head and the tree must exist already,
    since nothing may be written (a replica could not take it)."""
    async with pool.acquire() as conn:
        version = await schema_revision(conn)
        if version != head_revision():
            raise StorageError(f"database schema is at {version}, not {head_revision()}: "
                               "run `rekor-py migrate` against the primary")
        tree = await log_store.get_active_tree(conn)
    if tree is None:
        raise StorageError("the database holds no tree yet: start a writable server first")
    return tree


def tree_checkpoint_name(tree: log_store.TreeRow, settings: Settings) -> str:
    """The name the tree's checkpoints carry: the one it was created with.

    Every writer of a tree must sign the same origin line, or clients and fsck
    see one log under two names.  With the default name (host:port), servers on
    different ports (or one restarted on a new port) would differ, so the
    tree's stored origin decides and a differing configured name is only warned
    about.  Raises StorageError for an origin not of the form "<name> - <tree_id>".
    """
    suffix = f" - {tree.tree_id}"
    if not tree.origin.endswith(suffix) or tree.origin == suffix:
        raise StorageError(f"tree {tree.tree_id} has an unexpected origin {tree.origin!r}")
    name = tree.origin[: -len(suffix)]
    if name != settings.checkpoint_name:
        log.warning("tree %d's checkpoints are named %r since its creation; signing with "
                    "that name, not the configured %r", tree.tree_id, name,
                    settings.checkpoint_name)
    return name


async def open_log(settings: Settings, *, writable: bool = True) -> LogRuntime:
    embedded = None
    dsn = settings.database_url
    # Migrations and grants run as this role; the server's pool uses `dsn`'s.
    admin_dsn = settings.migrate_database_url or dsn
    if dsn is None or settings.signing_key is None or settings.note_key is None:
        # Something of ours lives there: the database, or a key created on first
        # start (the key files are 0600).  Not 0700: the embedded PostgreSQL runs
        # as its own user and must enter it.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if dsn is None:
        embedded = EmbeddedPostgres(settings.data_dir / "postgres", fsync=settings.fsync)
        admin_dsn = await asyncio.to_thread(embedded.start)
        dsn = embedded.server_dsn()
    assert admin_dsn is not None
    try:
        if not settings.read_only:
            await migrate(admin_dsn)
        if admin_dsn != dsn and (embedded is not None or not settings.read_only):
            await provision_server_role(admin_dsn, dsn, reset_password=embedded is not None)
        pool = await create_pool(dsn, min_size=1, max_size=settings.pool_max_size)
    except BaseException:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    signer = await asyncio.to_thread(load_signer, settings)
    try:
        if settings.read_only:
            tree = await _existing_tree(pool)
        else:
            tree = await _active_tree(pool, signer, settings.checkpoint_name)
    except BaseException:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    name = tree_checkpoint_name(tree, settings)
    sequencer = None
    if writable and not settings.read_only:
        sequencer = Sequencer(pool, tree.tree_id, signer, name,
                              max_delay_s=settings.batch_max_delay_ms / 1000,
                              max_batch=settings.batch_max_size,
                              max_pending=settings.max_pending)
        sequencer.start()
    return LogRuntime(LogService(pool, tree.tree_id, signer, sequencer, name), pool, embedded)
