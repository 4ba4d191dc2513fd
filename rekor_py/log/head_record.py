"""A record, outside the database, of the latest head this server signed per tree,
and the start-up guard that refuses a database that went back in time.

Restoring a backup older than the checkpoints already published (or a failover
that lost committed transactions) leaves a database whose tree is a prefix of
what clients saw, or another tree: appending to it would re-use indexes and
sign checkpoints that fork from the published ones.  So each server keeps, in
its data dir, `signed-heads/<tree ID>.json` with the largest head it signed,
and at start compares each tree it will sign with it: the database's tree must
be at least that large and hold the recorded root at the recorded size
(recomputed from the stored tiles).  Otherwise the server refuses to start,
naming both heads, unless the operator passes --allow-rollback (and takes the
fork on purpose), which re-bases the record.

The record is written off the event loop at most every RECORD_INTERVAL_S, so it
may trail the newest head by that much: a restore of a backup older than that
is caught, a loss of only the last moments before a crash may not be.  A fresh
data dir has no record, and a server on another host cannot know what this
one signed: docs/backup-restore.md says what the guard covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.log.tree_head import TreeHead
from rekor_py.statefile import StateError, read_capped, replace_atomically
from rekor_py.storage import log_store

__all__ = ["HeadRecorder", "RecordedHead", "RollbackDetected", "check_against_record",
           "check_head"]

log = logging.getLogger(__name__)

RECORD_INTERVAL_S = 0.5
_MAX_RECORD_BYTES = 4096


class RollbackDetected(StorageError):
    """The database's tree is behind, or not an extension of, what this server signed."""


@dataclass(frozen=True)
class RecordedHead:
    tree_id: int
    size: int
    root_hash: bytes


def _path(folder: Path, tree_id: int) -> Path:
    return folder / f"{tree_id}.json"


def read_record(folder: Path, tree_id: int) -> RecordedHead | None:
    raw = read_capped(_path(folder, tree_id), _MAX_RECORD_BYTES, "signed-head record")
    if raw is None:
        return None
    try:
        obj = json.loads(raw)
        return RecordedHead(int(obj["tree_id"]), int(obj["size"]), bytes.fromhex(obj["root_hash"]))
    except (ValueError, KeyError, TypeError) as e:
        raise StateError(f"{_path(folder, tree_id)} is not a signed-head record: {e}") from e


async def check_head(conn: Any, tree: log_store.TreeRow, size: int, root_hash: bytes) -> None:
    """Raise RollbackDetected unless the database's `tree` holds the signed head
    (`size`, `root_hash`) as a prefix."""
    problem = None
    if tree.size < size:
        problem = (f"the database holds {tree.size} entries of tree {tree.tree_id}, but this "
                   f"server signed a head of size {size} (root {root_hash.hex()})")
    else:
        root = await _prefix_root(conn, tree.tree_id, size)
        if root != root_hash:
            problem = (f"tree {tree.tree_id} in the database has root {root.hex()} at size "
                       f"{size}, but this server signed root {root_hash.hex()} there: "
                       "another history")
    if problem is not None:
        raise RollbackDetected(
            f"{problem}. The database went back in time (an old backup, or lost commits): "
            "appending would sign checkpoints that fork from published ones. Restore a "
            "newer backup, or start with --allow-rollback to fork on purpose.")


def write_record(folder: Path, head: RecordedHead, *, forward_only: bool = True) -> None:
    """Durably replace the record; by default not with a smaller head (another
    server process may have recorded a larger one)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    current = read_record(folder, head.tree_id)
    if forward_only and current is not None and current.size > head.size:
        return
    body = json.dumps({"tree_id": head.tree_id, "size": head.size,
                       "root_hash": head.root_hash.hex()}).encode()
    replace_atomically(_path(folder, head.tree_id), body, "signed-head record")


async def check_against_record(conn: Any, folder: Path, tree: log_store.TreeRow, *,
                               allow_rollback: bool) -> None:
    """Raise RollbackDetected if `tree` (the database's head) is behind or beside the
    recorded head; with allow_rollback, warn and re-base the record instead."""
    record = await asyncio.to_thread(read_record, folder, tree.tree_id)
    if record is None:
        return
    # The head read after the record: another process sharing the data dir may have
    # committed (and recorded) a newer head since `tree` was read, which must not
    # look like a rollback.
    tree = next((t for t in await log_store.list_trees(conn, tree.api_major)
                 if t.tree_id == tree.tree_id), tree)
    try:
        await check_head(conn, tree, record.size, record.root_hash)
    except RollbackDetected as e:
        if not allow_rollback:
            raise
        log.warning("ROLLBACK ALLOWED: %s; the record is re-based on size %d", e, tree.size)
    await asyncio.to_thread(write_record, folder,
                            RecordedHead(tree.tree_id, tree.size, tree.root_hash),
                            forward_only=False)


async def _prefix_root(conn: Any, tree_id: int, size: int) -> bytes:
    """The root of the tree's first `size` leaves, from the stored tiles (tiles only
    grow, so today's tiles hold every prefix's hashes)."""
    if size == 0:
        return merkle.EMPTY_ROOT
    plan = merkle.edge_plan(size)
    tiles = await log_store.read_tiles(conn, tree_id, [(t.level, t.index) for t in plan.tiles])
    try:
        return merkle.fold_edge(plan, tiles).root_hash()
    except (ValueError, KeyError) as e:
        raise RollbackDetected(f"tree {tree_id} lacks the tiles of its first {size} "
                               f"entries: {e}") from e


class HeadRecorder:
    """Keeps the latest signed head of each tree and writes it, off the event loop, at
    most every RECORD_INTERVAL_S (a sequencer listener calls `note`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._latest: dict[int, RecordedHead] = {}
        self._written: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def note_head(self, head: TreeHead) -> None:
        self.note(head.tree_id, head.size, head.root_hash)

    def note(self, tree_id: int, size: int, root_hash: bytes) -> None:
        last = self._latest.get(tree_id)
        if last is None or size > last.size:
            self._latest[tree_id] = RecordedHead(tree_id, size, root_hash)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(RECORD_INTERVAL_S)
        await self.flush()

    async def flush(self) -> None:
        for tree_id, head in list(self._latest.items()):
            if self._written.get(tree_id) == head.size:
                continue
            try:
                await asyncio.to_thread(write_record, self.folder, head)
                self._written[tree_id] = head.size
            except (OSError, StateError):
                log.exception("could not record the signed head of tree %d", tree_id)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
