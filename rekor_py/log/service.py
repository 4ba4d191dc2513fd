"""The log as the API sees it: submit entries, read them back with proofs.

Reads run in one REPEATABLE READ snapshot, so a tree head, the entries and the
tiles that prove them always belong together: a proof and its checkpoint come
from the same tree state.  Writes go through the Sequencer.  No HTTP here.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from rekor_py import merkle
from rekor_py.api.models import ConsistencyProof, LogEntry, LogInfo
from rekor_py.errors import EntryNotFound, InvalidProofRequest, ReadOnly, StorageError
from rekor_py.log.entries import ParsedEntryID, log_entry
from rekor_py.log.proofs import (
    TileCache,
    batch_inclusion_proofs,
    consistency_proof,
    inclusion_proof,
)
from rekor_py.log.sequencer import Integrated, PreparedEntry, Sequencer, TreeHead
from rekor_py.log.signer import LogSigner
from rekor_py.storage import log_store

__all__ = ["LogService"]


class LogService:
    """One active tree (sharding comes later: virtual index == leaf index), of the
    Rekor API `api_major`: the v1 tree signs SETs with `signer`; the v2 tree has none."""

    def __init__(self, pool: Any, tree_id: int, signer: LogSigner | None,
                 sequencer: Sequencer | None, checkpoint_name: str, *,
                 api_major: int = 1) -> None:
        self._pool = pool
        self.tree_id = tree_id
        self.api_major = api_major
        self._signer = signer
        # The name the tree's checkpoints carry (server.tree_checkpoint_name): one
        # name for every process serving the tree, whatever its own host:port.
        self.checkpoint_name = checkpoint_name
        self.sequencer = sequencer
        self.tiles = TileCache()
        if sequencer is not None:
            sequencer.listeners.append(lambda _tree, writes: self.tiles.apply_writes(writes))
            sequencer.prover = self._prove_batch

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """A pooled connection, for reads outside the snapshot helpers (search)."""
        async with self._pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield conn

    @property
    def signer(self) -> LogSigner:
        """The v1 log key (SETs, Rekor checkpoints); StorageError on the v2 tree."""
        if self._signer is None:
            raise StorageError(f"the Rekor v{self.api_major} tree has no SET signer")
        return self._signer

    async def _head(self, conn: Any) -> log_store.TreeRow:
        tree = await log_store.get_active_tree(conn, self.api_major)
        if tree is None or tree.tree_id != self.tree_id:
            raise StorageError("the active tree is missing")
        return tree

    # ---- writes -----------------------------------------------------------------------

    async def append(self, entry: PreparedEntry) -> tuple[Integrated, list[bytes]]:
        """Append an entry: where it went, the head that first contained it, and its
        audit path at that head.  Raises ReadOnly, DuplicateEntry, LogFull, StorageError."""
        if self.sequencer is None:
            raise ReadOnly("this log server is read-only: send writes to a writable server")
        done: Integrated = await self.sequencer.submit(entry)
        proof = done.proof
        if proof is None:
            async with self._pool.acquire() as conn:
                proof = await inclusion_proof(conn, self.tiles, self.tree_id, done.leaf_index,
                                              entry.leaf_hash, done.head.size,
                                              done.head.root_hash)
        return done, proof

    async def create_entry(self, entry: PreparedEntry) -> LogEntry:
        """Append an entry and answer its LogEntry, with the proof against the
        head that first contained it.  Raises DuplicateEntry, LogFull, StorageError."""
        done, proof = await self.append(entry)
        row = log_store.EntryRow(self.tree_id, done.leaf_index, entry.leaf_hash, entry.body,
                                 entry.kind, entry.api_version, done.integrated_time,
                                 entry.attestation)
        return log_entry(row, virtual_index=done.leaf_index, tree_size=done.head.size,
                         root_hash=done.head.root_hash, checkpoint=done.head.checkpoint,
                         proof=proof, signer=self.signer)

    async def _prove_batch(self, leaves: list[tuple[int, bytes]], head: TreeHead
                           ) -> list[list[bytes]]:
        """The sequencer's prover: a committed batch's audit paths from the tile cache,
        which already holds the batch's own tile writes; what it lacks (tiles another
        process appended to, older tiles) is read in one query."""
        async def read(missing: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            async with self._pool.acquire() as conn:
                return await log_store.read_tiles(conn, self.tree_id, missing)

        return await batch_inclusion_proofs(read, self.tiles, leaves, head.size,
                                            head.root_hash)

    # ---- reads ------------------------------------------------------------------------

    async def _entry_response(self, conn: Any, tree: log_store.TreeRow,
                              row: log_store.EntryRow) -> LogEntry:
        proof = await inclusion_proof(conn, self.tiles, self.tree_id, row.leaf_index,
                                      row.leaf_hash, tree.size, tree.root_hash)
        return log_entry(row, virtual_index=row.leaf_index, tree_size=tree.size,
                         root_hash=tree.root_hash, checkpoint=tree.checkpoint, proof=proof,
                         signer=self.signer)

    async def entries_with_proofs(self, leaf_indexes: Sequence[int]
                                  ) -> tuple[log_store.TreeRow,
                                             list[tuple[log_store.EntryRow, list[bytes]]]]:
        """The current head, and each entry at `leaf_indexes` inside it with its audit
        path at that head, read in one snapshot (indexes beyond the head are skipped)."""
        async with self._snapshot() as conn:
            tree = await self._head(conn)
            found = []
            for index in leaf_indexes:
                row = (await log_store.get_entry_by_index(conn, self.tree_id, index)
                       if 0 <= index < tree.size else None)
                if row is not None:
                    proof = await inclusion_proof(conn, self.tiles, self.tree_id, index,
                                                  row.leaf_hash, tree.size, tree.root_hash)
                    found.append((row, proof))
            return tree, found

    async def get_by_index(self, log_index: int) -> LogEntry:
        """Raises EntryNotFound beyond the end of the log."""
        async with self._snapshot() as conn:
            tree = await self._head(conn)
            row = None
            if 0 <= log_index < tree.size:
                row = await log_store.get_entry_by_index(conn, self.tree_id, log_index)
            if row is None:
                raise EntryNotFound
            return await self._entry_response(conn, tree, row)

    async def get_by_id(self, parsed: ParsedEntryID) -> LogEntry:
        """Raises EntryNotFound for an unknown UUID or another tree's ID."""
        found = await self.find_by_ids([parsed])
        if not found:
            raise EntryNotFound
        return found[0]

    async def find_by_ids(self, ids: Sequence[ParsedEntryID]) -> list[LogEntry]:
        """Entries for each ID that exists, in request order; misses are omitted."""
        wanted = [p for p in ids if p.tree_id in (None, self.tree_id)]
        if not wanted:
            return []
        async with self._snapshot() as conn:
            tree = await self._head(conn)
            rows = await log_store.get_entries_by_leaf_hash(conn, [p.leaf_hash for p in wanted])
            by_hash = {r.leaf_hash: r for r in rows if r.tree_id == self.tree_id}
            out = []
            for p in wanted:
                row = by_hash.get(p.leaf_hash)
                if row is not None and row.leaf_index < tree.size:
                    out.append(await self._entry_response(conn, tree, row))
            return out

    async def find_by_indexes(self, indexes: Sequence[int]) -> list[LogEntry]:
        out = []
        for index in indexes:
            try:
                out.append(await self.get_by_index(index))
            except EntryNotFound:
                continue
        return out

    async def log_info(self) -> LogInfo:
        async with self._snapshot() as conn:
            tree = await self._head(conn)
        return LogInfo(rootHash=tree.root_hash.hex(), signedTreeHead=tree.checkpoint,
                       treeID=str(self.tree_id), treeSize=tree.size)

    async def consistency(self, first_size: int, last_size: int) -> ConsistencyProof:
        """Rekor's getLogProof (docs/rekor-compat.md#api-proof): the proof from first_size
        to last_size, and the CURRENT root."""
        if first_size > last_size:
            raise InvalidProofRequest(
                f"firstSize({first_size}) must be less than lastSize({last_size})")
        async with self._snapshot() as conn:
            tree = await self._head(conn)
            if last_size > tree.size:
                raise InvalidProofRequest(
                    f"the tree size requested({last_size}) was greater than what is "
                    f"currently observable({tree.size})")
            proof = await consistency_proof(conn, self.tiles, self.tree_id, first_size,
                                            last_size)
        return ConsistencyProof(hashes=[h.hex() for h in proof], rootHash=tree.root_hash.hex())

    async def created_at(self) -> datetime.datetime:
        """When the tree was created: where its key's validity starts for clients."""
        async with self._pool.acquire() as conn:
            return await log_store.tree_created_at(conn, self.tree_id)

    def public_key_pem(self) -> bytes:
        return self.signer.public_key_pem

    # ---- the tile API (C2SP tlog-tiles) -------------------------------------------------

    async def head(self) -> log_store.TreeRow:
        """The committed tree head (size, root, Rekor checkpoint)."""
        async with self._snapshot() as conn:
            return await self._head(conn)

    async def read_tile(self, tile: merkle.TileID) -> bytes | None:
        """The first tile.width hashes of a hash tile, or None if the committed tree
        does not hold that many yet (read in one snapshot with the head)."""
        async with self._snapshot() as conn:
            if not _tile_exists(tile, (await self._head(conn)).size):
                return None
            found = await log_store.read_tiles(conn, self.tree_id, [(tile.level, tile.index)])
        data = found.get((tile.level, tile.index), b"")
        if len(data) < tile.width * merkle.HASH_SIZE:
            raise StorageError(f"tile {tile.path} of tree {self.tree_id} is short")
        return data[: tile.width * merkle.HASH_SIZE]

    async def read_entry_bundle(self, tile: merkle.TileID) -> list[bytes] | None:
        """The canonical bodies behind level-0 tile `tile` (its first tile.width
        leaves), or None if the committed tree does not hold them all yet."""
        async with self._snapshot() as conn:
            if tile.level != 0 or not _tile_exists(tile, (await self._head(conn)).size):
                return None
            start = tile.index * merkle.TILE_WIDTH
            return await log_store.read_entry_bodies(conn, self.tree_id, start,
                                                     start + tile.width)


def _tile_exists(tile: merkle.TileID, size: int) -> bool:
    """Whether a tree of `size` holds at least tile.width hashes of the tile."""
    try:
        return merkle.tile_for(tile.level, tile.index, size).width >= tile.width
    except ValueError:  # empty at this size, or an index past 2**64
        return False

