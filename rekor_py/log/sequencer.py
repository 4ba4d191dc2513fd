"""The sequencer: batches pending entries and appends each batch in one transaction.

A request hands over a prepared entry (canonical body, leaf hash, index keys) and
awaits a future.  Every few milliseconds, or at `max_batch` entries, the
sequencer takes what is pending and, in ONE Postgres transaction under a row
lock on the tree: rejects leaves already in the tree, assigns consecutive
indexes, writes entries and index keys, writes exactly the tile hashes the
Merkle engine reports as new, and stores the signed checkpoint with a
compare-and-swap on the tree size.  Futures are resolved only after the commit,
so nothing is acknowledged that a crash could lose.

Because the lock is a database row, several processes can run sequencers on one
database: a process whose right edge is stale (another process appended)
reloads it from the tiles inside the locked transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from rekor_py import merkle
from rekor_py.errors import DatabaseUnavailable, InvalidEntry, LogFull, StorageError
from rekor_py.log.head_record import RollbackDetected, check_head
from rekor_py.log.prepared import PreparedEntry
from rekor_py.log.tree_head import TreeHead
from rekor_py.logsafe import clip
from rekor_py.observability import metrics
from rekor_py.storage import batch_write, log_store
from rekor_py.storage.db import is_unavailable

__all__ = ["DuplicateEntry", "HeadSigner", "Integrated", "PreparedEntry", "Prover", "Sequencer",
           "SetSigner", "TreeHead"]

log = logging.getLogger(__name__)


# (leaf index, leaf hash) of each entry of a committed batch, and its head -> their
# audit paths at that head, in order.
Prover = Callable[[list[tuple[int, bytes]], TreeHead], Awaitable[list[list[bytes]]]]
# (tree size, root hash) -> the signed checkpoint note stored with that head: a
# Rekor v1 checkpoint for a v1 tree, a C2SP one for a v2 tree (server.py).
HeadSigner = Callable[[int, bytes], str]
# (the locked tree, whose size is the batch's first leaf index; the batch's canonical
# bodies; their integrated time) -> each entry's signed entry timestamp in its stored
# form (log/set.py): for trees whose entries have SETs (Rekor v1).
SetSigner = Callable[[log_store.TreeRow, list[bytes], int], list[bytes]]


@dataclass(frozen=True, slots=True)
class Integrated:
    """The answer to a submission: where the entry went and the head that holds it."""

    leaf_index: int
    integrated_time: int
    head: TreeHead
    # The entry's audit path at `head`, when the batch's proofs could be made at once
    # (Sequencer.prover); None leaves it to the caller.
    proof: list[bytes] | None = None
    # Its SET as stored with it (Sequencer.set_signer); None if its tree has none.
    signed_entry_timestamp: bytes | None = None


class DuplicateEntry(Exception):
    """The leaf is already in the tree at `leaf_index` (Rekor answers 409)."""

    def __init__(self, leaf_index: int, leaf_hash: bytes, tree_id: int) -> None:
        super().__init__(f"leaf {leaf_hash.hex()} already at index {leaf_index}")
        self.leaf_index = leaf_index
        self.leaf_hash = leaf_hash
        self.tree_id = tree_id


class TreeFrozen(Exception):
    """The tree was frozen by a rotation (rekor-py shard rotate) since the last batch."""


@dataclass(slots=True)
class _Pending:
    entry: PreparedEntry
    future: asyncio.Future[Integrated] = field(repr=False)


class Sequencer:
    """Owns the write path of one tree in this process (see the module docstring)."""

    def __init__(self, pool: Any, tree_id: int, sign_head: HeadSigner, *,
                 max_delay_s: float = 0.005, max_batch: int = 512,
                 max_pending: int = 20_000, api: str = "v1", sign_off_loop: bool = False) -> None:
        self._pool = pool
        self.tree_id = tree_id
        self.api = api  # the label of its metrics
        self._sign_note = sign_head
        # A key in a token (log/signer.py signs_in_memory): sign the head in a thread,
        # so that a slow device stalls this batch only, not every request.  Set again
        # by whoever hands the sequencer another tree's signer (a rotation).
        self.sign_off_loop = sign_off_loop
        self._max_delay = max_delay_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._edge: merkle.RightEdge | None = None
        self._task: asyncio.Task[None] | None = None
        # Tile writes of committed batches, for readers that cache tiles.
        self.listeners: list[Any] = []
        # Tiles read under the tree's lock to reload the right edge (after another
        # process appended), as stored at the locked size: the same readers cache them,
        # so that the batch's own writes extend them and its proofs need not read them
        # again.
        self.edge_listeners: list[Callable[[int, dict[tuple[int, int], bytes]], None]] = []
        # Each committed head (log/head_record.py keeps the latest outside the database).
        self.head_listeners: list[Callable[[TreeHead], None]] = []
        # The last head this process signed, and whether the database must be checked
        # against it (set after the database was unavailable).
        self._signed: TreeHead | None = None
        self._recheck = False
        # The same check against the record on disk (heads other processes signed).
        self.record_check: Callable[[Any, log_store.TreeRow], Awaitable[None]] | None = None
        # Makes the audit paths of a committed batch's leaves, (index, leaf hash), at
        # its head, in one go: one tile lookup (and at most one query) per batch
        # instead of one per request.
        self.prover: Prover | None = None
        # Signs the SETs of a batch's entries, stored with them: only under the lock are
        # their indexes known.  None: the tree's entries have no SETs (Rekor v2).
        self.set_signer: SetSigner | None = None
        # After a rotation froze our tree: the new active tree's ID and head signer
        # (LogService follows rotations for v1 trees); None: a frozen tree fails.
        self.on_frozen: Callable[[], Awaitable[tuple[int, HeadSigner]]] | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sequencer-{self.tree_id}")

    async def stop(self) -> None:
        """Stop taking batches; entries still queued are failed, never acknowledged."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(StorageError("the log is shutting down"))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def pending(self) -> int:
        """Entries queued for a batch."""
        return self._queue.qsize()

    # ---- submitting -------------------------------------------------------------------

    async def submit(self, entry: PreparedEntry) -> Integrated:
        """Queue an entry and wait until its batch committed.

        Raises DuplicateEntry, LogFull (queue full) or StorageError (the batch failed:
        the entry was not logged).
        """
        if self._queue.qsize() >= self._max_pending:
            raise LogFull
        if self._task is None or self._task.done():
            raise StorageError("the sequencer is not running")
        future: asyncio.Future[Integrated] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(entry, future))
        return await future

    # ---- the batch loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Give concurrent requests a moment to join, unless a batch is already full.
            if self._max_delay > 0 and self._queue.qsize() < self._max_batch - 1:
                await asyncio.sleep(self._max_delay)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_isolating(batch)
            except asyncio.CancelledError:
                self._fail(batch, StorageError("the log is shutting down"))
                raise

    async def _commit_isolating(self, batch: list[_Pending]) -> None:
        """Commit `batch`; if it fails for a reason other than the database being
        away, commit its halves apart, down to the one entry that fails.

        One client's unstorable entry (validation should have refused it) then
        fails only its own request, never the others it was batched with: a
        batch of n with one bad entry costs about 2*log2(n) more transactions."""
        try:
            await self._commit(batch)
            return
        except asyncio.CancelledError:
            raise
        except RollbackDetected as e:
            # The database lost heads we signed (a failover without them, a restore):
            # signing on it would fork the log.  Refuse every batch until an operator
            # restarts the server (with --allow-rollback, to fork on purpose).
            log.critical("REFUSING TO SIGN: %s", e)
            self._fail(batch, DatabaseUnavailable("the log's database is behind the heads "
                                                  "this server signed; an operator must "
                                                  "look"), e)
            return
        except TreeFrozen:
            # The rotation committed between our batches: the batch's transaction
            # rolled back untouched, so it goes whole to the new tree.
            if await self._follow_rotation():
                await self._commit_isolating(batch)
            else:
                self._fail(batch, StorageError("the log's tree is frozen"))
            return
        except Exception as e:  # noqa: BLE001 - sorted out below
            self._edge = None  # reload from storage next time
            if is_unavailable(e):
                # After the database comes back, check it did not go back in time
                # (a failover that lost commits) before signing on it again.
                self._recheck = True
                # PostgreSQL is down or restarting: nothing here to debug, and a
                # retry may well succeed (503).  The batch may or may not have
                # committed; either way no waiter is told it did.
                log.warning("batch of %d entries failed: database unavailable (%s)",
                            len(batch), type(e).__name__)
                self._fail(batch, DatabaseUnavailable(), e)
                return
            if not _refused_by_postgres(e):
                # Our own checks (a tile that does not extend, a moved head): a bug
                # or corruption that every subset would hit alike.
                log.exception("batch of %d entries failed", len(batch))
                self._fail(batch, StorageError("the entry could not be logged; try again"), e)
                return
            if len(batch) == 1:
                self._fail_one(batch[0], e)
                return
        middle = len(batch) // 2
        for half in (batch[:middle], batch[middle:]):
            await self._commit_isolating(half)

    async def _check_not_behind(self, conn: Any, tree: log_store.TreeRow) -> None:
        """Raise RollbackDetected if the locked tree is behind, or beside, the last head
        this process (or, through the record, this data dir) signed."""
        last = self._signed
        if last is not None and last.tree_id == tree.tree_id:
            await check_head(conn, tree, last.size, last.root_hash)
        if self.record_check is not None:
            await self.record_check(conn, tree)
        self._recheck = False

    async def _follow_rotation(self) -> bool:
        """Move to the tree that replaced ours; False if there is none to move to."""
        if self.on_frozen is None:
            log.error("tree %d is frozen and this sequencer cannot follow a rotation",
                      self.tree_id)
            return False
        try:
            tree_id, sign_head = await self.on_frozen()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged; the batch is failed, not lost
            log.exception("tree %d is frozen and its successor cannot be loaded", self.tree_id)
            return False
        if tree_id == self.tree_id:
            return False
        log.info("tree %d is frozen: appending to tree %d", self.tree_id, tree_id)
        self.tree_id, self._sign_note, self._edge = tree_id, sign_head, None
        return True

    def _fail_one(self, pending: _Pending, error: Exception) -> None:
        entry = pending.entry
        if _is_data_error(error):
            # Data PostgreSQL refuses (bad text, out of range): the entry's fault.
            log.warning("entry %s (%s) could not be stored: %s", entry.leaf_hash.hex(),
                        clip(entry.kind, 40), clip(str(_root(error)), 200))
            self._fail([pending], InvalidEntry("the log cannot store this entry"), error)
        else:
            log.error("entry %s (%s) could not be logged", entry.leaf_hash.hex(),
                      clip(entry.kind, 40), exc_info=error)
            self._fail([pending], StorageError("the entry could not be logged; try again"),
                       error)

    @staticmethod
    def _fail(batch: Sequence[_Pending], error: Exception, cause: Exception | None = None) -> None:
        for pending in batch:
            if not pending.future.done():
                error_copy = type(error)(str(error))
                error_copy.__cause__ = cause
                pending.future.set_exception(error_copy)

    async def _commit(self, batch: list[_Pending]) -> None:
        integrated_time = int(time.time())
        started = time.perf_counter()
        async with self._pool.acquire() as conn, conn.transaction():
            tree = await log_store.lock_tree(conn, self.tree_id, index_scans=True)
            if tree.state != "active":
                raise TreeFrozen
            if self._recheck:
                await self._check_not_behind(conn, tree)
            edge, existing = await self._edge_and_duplicates(conn, batch, tree)
            accepted, duplicates = self._split_duplicates(batch, existing, tree.size)
            head, result, sets = None, None, None
            if accepted:
                result = merkle.append_leaves(edge, [p.entry.leaf_hash for p in accepted])
                head, sets = (await asyncio.to_thread(self._sign, tree, accepted, result,
                                                      integrated_time) if self.sign_off_loop
                              else self._sign(tree, accepted, result, integrated_time))
                await batch_write.append_batch(
                    conn, self.tree_id, tree.size,
                    self._rows(accepted, tree.size, integrated_time, sets),
                    result.tiles, head.root_hash, head.checkpoint)
        # Committed: only now may anyone hear about it.
        if result is not None and head is not None:
            metrics.BATCH_COMMIT.labels(self.api).observe(time.perf_counter() - started)
            metrics.BATCH_SIZE.labels(self.api).observe(len(accepted))
            for kind, count in Counter(p.entry.kind for p in accepted).items():
                metrics.ENTRIES.labels(self.api, kind).inc(count)
            self._edge = result.edge
            for listener in self.listeners:
                listener(self.tree_id, result.tiles)
            self._signed = head
            for head_listener in self.head_listeners:
                head_listener(head)
            proofs: list[list[bytes]] | None = None
            try:
                proofs = await self._prove(accepted, tree.size, head)
            finally:
                # Even if cancelled while proving: these entries are logged.
                for offset, pending in enumerate(accepted):
                    # A waiter may have gone (its request timed out and was
                    # cancelled); the others must still hear that their entries
                    # were logged.
                    if not pending.future.done():
                        pending.future.set_result(Integrated(
                            tree.size + offset, integrated_time, head,
                            proofs[offset] if proofs is not None else None,
                            sets[offset] if sets is not None else None))
        for pending, leaf_index in duplicates:
            if not pending.future.done():
                pending.future.set_exception(
                    DuplicateEntry(leaf_index, pending.entry.leaf_hash, self.tree_id))

    async def _prove(self, accepted: list[_Pending], first_index: int, head: TreeHead
                     ) -> list[list[bytes]] | None:
        """The batch's audit paths, or None (then each request makes its own)."""
        if self.prover is None:
            return None
        leaves = [(first_index + i, p.entry.leaf_hash) for i, p in enumerate(accepted)]
        try:
            return await self.prover(leaves, head)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the entries are logged; their proofs can wait
            log.warning("proofs for a batch of %d entries failed; each request will "
                        "read its own", len(accepted), exc_info=True)
            return None

    async def _edge_and_duplicates(self, conn: Any, batch: list[_Pending],
                                   tree: log_store.TreeRow
                                   ) -> tuple[merkle.RightEdge, dict[bytes, int]]:
        """The right edge at the locked tree's size (ours, or rebuilt from the tiles
        another writer left), and the batch's leaves already in the tree, read in
        one statement (storage/batch_write.py says why it cannot be the lock's)."""
        fresh = self._edge is not None and self._edge.size == tree.size
        plan = None if fresh else merkle.edge_plan(tree.size)
        existing, tiles = await batch_write.find_leaves_and_tiles(
            conn, self.tree_id, [p.entry.leaf_hash for p in batch],
            [] if plan is None else [(level, index) for level, index, _ in plan.tile_slots])
        if plan is None:
            assert self._edge is not None
            return self._edge, existing
        edge = merkle.fold_edge(plan, tiles)
        if edge.root_hash() != tree.root_hash:
            raise StorageError(f"tiles of tree {self.tree_id} do not match its root "
                               f"at size {tree.size}")
        for listener in self.edge_listeners:
            listener(self.tree_id, tiles)
        return edge, existing

    @staticmethod
    def _split_duplicates(batch: list[_Pending], existing: dict[bytes, int], size: int
                          ) -> tuple[list[_Pending], list[tuple[_Pending, int]]]:
        """Entries to append, and duplicates with the index that already holds them
        (in the tree, or earlier in this same batch)."""
        accepted: list[_Pending] = []
        duplicates: list[tuple[_Pending, int]] = []
        first_in_batch: dict[bytes, int] = {}
        for pending in batch:
            leaf = pending.entry.leaf_hash
            index = existing.get(leaf, first_in_batch.get(leaf))
            if index is not None:
                duplicates.append((pending, index))
                continue
            first_in_batch[leaf] = size + len(accepted)
            accepted.append(pending)
        return accepted, duplicates

    def _rows(self, accepted: list[_Pending], size: int, integrated_time: int,
              sets: list[bytes] | None) -> list[log_store.EntryRow]:
        return [
            log_store.EntryRow(self.tree_id, size + i, p.entry.leaf_hash, p.entry.body,
                               integrated_time, p.entry.attestation, p.entry.index_keys,
                               p.entry.stored_body, sets[i] if sets is not None else None)
            for i, p in enumerate(accepted)
        ]

    def _sign(self, tree: log_store.TreeRow, accepted: list[_Pending],
              result: merkle.AppendResult, integrated_time: int
              ) -> tuple[TreeHead, list[bytes] | None]:
        """The batch's signed head and its entries' SETs (None without a set_signer)."""
        sets = (None if self.set_signer is None else
                self.set_signer(tree, [p.entry.body for p in accepted], integrated_time))
        if sets is not None and len(sets) != len(accepted):
            raise StorageError(f"{len(sets)} SETs signed for {len(accepted)} entries")
        size, root_hash = result.edge.size, result.root_hash
        return TreeHead(self.tree_id, size, root_hash, self._sign_note(size, root_hash)), sets


def _root(error: BaseException) -> BaseException:
    """The first cause of `error` (log_store wraps asyncpg's errors in StorageError)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _refused_by_postgres(error: BaseException) -> bool:
    """Whether PostgreSQL itself refused a statement (a value, a constraint, a size
    limit): a failure that may belong to one row of the batch."""
    return isinstance(_root(error), asyncpg.PostgresError)


def _is_data_error(error: BaseException) -> bool:
    """Whether PostgreSQL refused the row's values (SQLSTATE class 22, data exception)."""
    # 22: data exception (a NUL in text, bad encoding); 54: a limit such as the
    # btree row size, reached by an oversized search key.
    return isinstance(_root(error), (asyncpg.DataError, asyncpg.ProgramLimitExceededError))
