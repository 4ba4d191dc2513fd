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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekor_py import merkle
from rekor_py.config import Settings
from rekor_py.errors import StorageError
from rekor_py.keys import open_note_key, open_uri_key, uri_of
from rekor_py.log.checkpoint import Checkpoint, format_checkpoint, origin_for
from rekor_py.log.head_record import HeadRecorder, check_against_record
from rekor_py.log.sequencer import HeadSigner, Sequencer
from rekor_py.log.service import LogService
from rekor_py.log.shards import LogKeyring, v1_head_signer
from rekor_py.log.signer import LogSigner, Signer, signs_in_memory
from rekor_py.log.v2_log import V2Log
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
    # The Rekor v2 log (its own tree), unless Settings.rekor_v2 is off.
    v2: V2Log | None = None
    # The latest signed heads, kept outside the database (a writable server's).
    recorder: HeadRecorder | None = None

    async def close(self) -> None:
        for service in (self.service, self.v2.service if self.v2 else None):
            if service is not None and service.sequencer is not None:
                await service.sequencer.stop()
        if self.recorder is not None:
            await self.recorder.close()
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


def load_signer(settings: Settings) -> LogSigner:
    """--signing-key (a key URI, or a file that must exist) or the data dir's key,
    created on first start."""
    uri = uri_of(settings.signing_key)
    if uri is not None:
        return LogSigner(open_uri_key(uri, settings, "--signing-key"))
    password = settings.signing_key_password()
    if isinstance(settings.signing_key, Path):
        return LogSigner.from_pem(settings.signing_key.read_bytes(), password)
    return LogSigner.load_or_create(settings.data_dir / "signing-key.pem", password)


async def _active_tree(pool: Any, api_major: int,
                       origin: Callable[[int], str],
                       sign_empty: Callable[[int, str], str],
                       log_id: bytes | None = None) -> log_store.TreeRow:
    """The active tree of Rekor API `api_major`, created if none: a random positive
    int63 ID, `origin(tree_id)`, and the empty head signed by `sign_empty(tree_id,
    origin)`."""
    async with pool.acquire() as conn, conn.transaction():
        await log_store.lock_tree_creation(conn)
        tree = await log_store.get_active_tree(conn, api_major)
        if tree is not None:
            return tree
        tree_id = secrets.randbelow((1 << 63) - 1) + 1
        tree_origin = origin(tree_id)
        log.info("creating the Rekor v%d tree %d", api_major, tree_id)
        return await log_store.create_tree(conn, tree_id, tree_origin, merkle.EMPTY_ROOT,
                                           sign_empty(tree_id, tree_origin), api_major,
                                           log_id=log_id)


def load_keyring(settings: Settings, signer: LogSigner) -> LogKeyring:
    """The configured key and the PEM files of Settings.log_keys_path."""
    password = settings.signing_key_password()
    return LogKeyring(signer, settings.log_keys_path,
                      lambda pem: LogSigner.from_pem(pem, password))


async def _v1_tree(pool: Any, signer: LogSigner, name: str) -> log_store.TreeRow:
    def sign_empty(tree_id: int, origin: str) -> str:
        return format_checkpoint(Checkpoint(origin, 0, merkle.EMPTY_ROOT), signer, name)

    return await _active_tree(pool, 1, lambda tree_id: origin_for(name, tree_id), sign_empty,
                              log_id=signer.log_id)


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
    keyring = await asyncio.to_thread(load_keyring, settings, signer)
    try:
        if settings.read_only:
            tree = await _existing_tree(pool)
        else:
            tree = await _v1_tree(pool, signer, settings.checkpoint_name)
            await _guard(pool, settings, tree)
        v2 = await _open_v2(pool, settings, writable) if settings.rekor_v2 else None
        if v2 is not None and v2.service.sequencer is not None:
            try:
                await _guard(pool, settings, await v2.service.head())
            except BaseException:
                await v2.service.sequencer.stop()
                raise
    except BaseException:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    name = tree_checkpoint_name(tree, settings)
    try:
        tree_signer = keyring.signer_for(tree)
    except StorageError:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    sign_head = v1_head_signer(name, tree.tree_id, tree_signer)
    sequencer = (_sequencer(pool, tree, sign_head, settings, tree_signer.signer) if writable
                 else None)
    service = LogService(pool, tree.tree_id, tree_signer, sequencer, name, keyring=keyring)
    recorder = None
    if writable and not settings.read_only:
        recorder = HeadRecorder(settings.signed_heads_path)
        folder = settings.signed_heads_path

        async def record_check(conn: Any, tree: log_store.TreeRow) -> None:
            # At run time a rollback is always refused (--allow-rollback is for a start).
            await check_against_record(conn, folder, tree, allow_rollback=False)

        for seq in (sequencer, v2.service.sequencer if v2 is not None else None):
            if seq is not None:
                seq.head_listeners.append(recorder.note_head)
                seq.record_check = record_check
    return LogRuntime(service, pool, embedded, v2, recorder)


async def _guard(pool: Any, settings: Settings, tree: log_store.TreeRow) -> None:
    """Refuse a database that went back in time (log/head_record.py)."""
    async with pool.acquire() as conn:
        await check_against_record(conn, settings.signed_heads_path, tree,
                                   allow_rollback=settings.allow_rollback)


def _sequencer(pool: Any, tree: log_store.TreeRow, sign_head: HeadSigner,
               settings: Settings, key: Signer) -> Sequencer | None:
    """The tree's started sequencer (signing heads with `key`), or None on a read-only
    server."""
    if settings.read_only:
        return None
    sequencer = Sequencer(pool, tree.tree_id, sign_head,
                          max_delay_s=settings.batch_max_delay_ms / 1000,
                          max_batch=settings.batch_max_size, max_pending=settings.max_pending,
                          sign_off_loop=not signs_in_memory(key),
                          api="v2" if tree.api_major == 2 else "v1")
    sequencer.start()
    return sequencer


async def _open_v2(pool: Any, settings: Settings, writable: bool) -> V2Log | None:
    """The Rekor v2 log: its Ed25519 key (created on first start) and its tree, whose
    origin is Settings.v2_checkpoint_name (see there).  None on
    a read-only server whose database has no v2 tree yet."""
    path = settings.v2_signing_key_path
    if settings.read_only and isinstance(path, Path) and not path.exists():
        # A replica must sign with the primary's key, never one of its own.
        log.warning("no Rekor v2 log key at %s: serving the v1 log only", path)
        return None
    key = await asyncio.to_thread(open_note_key, settings, path, "REKOR_PY_V2_SIGNING_KEY")

    def sign_empty(tree_id: int, origin: str) -> str:
        return V2Log.head_signer(origin, key)(0, merkle.EMPTY_ROOT)

    if settings.read_only:
        async with pool.acquire() as conn:
            found = await log_store.get_active_tree(conn, 2)
        if found is None:
            log.warning("the database holds no Rekor v2 tree: serving the v1 log only")
            return None
        tree = found
    else:
        tree = await _active_tree(pool, 2, lambda tree_id: settings.v2_checkpoint_name,
                                  sign_empty)
    if tree.origin != settings.v2_checkpoint_name:
        log.warning("the Rekor v2 tree %d is named %r since its creation; signing with that "
                    "name, not the configured %r", tree.tree_id, tree.origin,
                    settings.v2_checkpoint_name)
    sign_head = V2Log.head_signer(tree.origin, key)
    sequencer = _sequencer(pool, tree, sign_head, settings, key) if writable else None
    service = LogService(pool, tree.tree_id, None, sequencer, tree.origin, api_major=2)
    return V2Log(service, tree.origin, key)
