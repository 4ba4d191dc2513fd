"""The log as the API sees it: submit entries, read them back with proofs.

A proof and its checkpoint always come from the same tree state.  Reads by index
or ID, consistency proofs and hash tiles get the head with the entry and the tiles
they need in one statement (one snapshot, no transaction); the others (entry
bundles, the v2 API's entries) run in one REPEATABLE READ snapshot.  Either way is enough because entries below a head
never change and tiles only grow, so tiles read later than the head still prove
against it.  Writes go through the Sequencer.  No HTTP here.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from rekor_py import merkle
from rekor_py.api.models import ConsistencyProof, InactiveShard, LogInfo
from rekor_py.errors import EntryNotFound, InvalidProofRequest, ReadOnly, StorageError
from rekor_py.log.entries import EntryAnswer, ParsedEntryID, log_entry, stored_signature
from rekor_py.log.proofs import (
    TileCache,
    TileReader,
    batch_inclusion_proofs,
    consistency_proof,
    inclusion_proof,
    tile_reader,
)
from rekor_py.log.read_batch import ReadBatcher
from rekor_py.log.sequencer import HeadSigner, Integrated, PreparedEntry, Sequencer, TreeHead
from rekor_py.log.set import sign_batch_sets, sign_set
from rekor_py.log.shards import LogKeyring, Shards, v1_head_signer
from rekor_py.log.signer import LogSigner, signs_in_memory
from rekor_py.log.tile_warmup import warm_tile_cache
from rekor_py.storage import log_store

__all__ = ["LogService"]


class LogService:
    """The trees (shards) of one log, of the Rekor API `api_major`: the v1 log signs
    SETs and checkpoints with its keyring's keys and follows rotations
    (log/shards.py); the v2 log is one tree with no SET signer."""

    def __init__(self, pool: Any, tree_id: int, signer: LogSigner | None,
                 sequencer: Sequencer | None, checkpoint_name: str, *,
                 api_major: int = 1, keyring: LogKeyring | None = None) -> None:
        self._pool = pool
        # The active tree as last seen (a rotation moves it; _shards_in notices).
        self.tree_id = tree_id
        self.api_major = api_major
        if keyring is None and signer is not None:
            keyring = LogKeyring(signer)
        self._keyring = keyring
        self._signer = signer
        # The name the tree's checkpoints carry (server.tree_checkpoint_name): one
        # name for every process serving the tree, whatever its own host:port.
        self.checkpoint_name = checkpoint_name
        self.sequencer = sequencer
        # Per tree: a frozen shard's tiles never change, the active one's grow.
        self._tile_caches: dict[int, TileCache] = {}
        # What never changes about a tree once created (offset, key), by tree ID.
        self._trees: dict[int, log_store.TreeRow] = {}
        # The trees as last read: where a read guesses its entry and tiles are, so that
        # it fetches them with the head in one statement (_guess).
        self._last_shards: Shards | None = None
        # Reads by index, consistency proofs and tiles that arrive together share a
        # statement (their heads, entries and tiles).
        self._reads: ReadBatcher[Shards, log_store.EntryRow] = ReadBatcher(self._read_batch)
        if sequencer is not None:
            sequencer.listeners.append(
                lambda tree, writes: self.tiles_of(tree).apply_writes(writes))
            sequencer.edge_listeners.append(lambda tree, tiles: self.tiles_of(tree).add(tiles))
            sequencer.prover = self._prove_batch
            if keyring is not None:
                sequencer.on_frozen = self._follow_rotation
                sequencer.set_signer = self._sign_sets

    def tiles_of(self, tree_id: int) -> TileCache:
        cache = self._tile_caches.get(tree_id)
        if cache is None:
            cache = self._tile_caches[tree_id] = TileCache()
        return cache

    @property
    def tiles(self) -> TileCache:
        """The active tree's tile cache."""
        return self.tiles_of(self.tree_id)

    @property
    def pool(self) -> Any:
        """The asyncpg pool (witnessing keeps its own rows in the same database)."""
        return self._pool

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
        """The active tree's key (SETs, Rekor checkpoints); StorageError on the v2 tree."""
        if self._signer is None:
            raise StorageError(f"the Rekor v{self.api_major} tree has no SET signer")
        return self._signer

    def signer_for(self, tree: log_store.TreeRow) -> LogSigner:
        if self._keyring is None:
            raise StorageError(f"the Rekor v{self.api_major} tree has no SET signer")
        return self._keyring.signer_for(tree)

    async def _shards_in(self, conn: Any) -> Shards:
        """The log's trees as `conn` sees them; adopts a new active tree."""
        return self._note(Shards.of(await log_store.list_trees(conn, self.api_major)))

    def _note(self, shards: Shards) -> Shards:
        """Remember the trees just read (their unchanging parts, and where reads will
        probably find an index next time); adopt a new active tree."""
        for tree in shards.trees:
            self._trees.setdefault(tree.tree_id, tree)
        self._last_shards = shards
        if shards.active.tree_id != self.tree_id:
            self._adopt(shards.active)
        return shards

    def _guess(self, virtual_index: int) -> tuple[log_store.TreeRow, int] | None:
        """Where `virtual_index` probably is (tree, leaf), from the trees as last read:
        frozen trees never change, the active one may have grown since.  A read
        checks the guess against the trees it reads along with the entry."""
        shards = self._last_shards
        return None if shards is None else shards.locate(virtual_index, active_may_grow=True)

    async def _read_with(self, tree_id: int, leaf_index: int | None,
                         tile_keys: Sequence[tuple[int, int]]
                         ) -> tuple[Shards, log_store.EntryRow | None,
                                    dict[tuple[int, int], bytes]]:
        """The trees, and of tree `tree_id` the entry at `leaf_index` and those of the
        tiles `tile_keys` that exist, read in one statement (one snapshot), which
        other reads arriving at the same time share."""
        got = await self._reads.read(tree_id, leaf_index, tile_keys)
        return got.trees, got.entry, got.tiles

    async def _read_batch(self, tree_id: int, leaf_indexes: list[int],
                          tile_keys: list[tuple[int, int]]
                          ) -> tuple[Shards, dict[int, log_store.EntryRow],
                                     dict[tuple[int, int], bytes]]:
        async with self._pool.acquire() as conn:
            trees, rows, tiles = await log_store.read_trees_with(
                conn, self.api_major, tree_id, leaf_indexes, tile_keys)
        return self._note(Shards.of(trees)), rows, tiles

    def _pooled_tiles(self, tree_id: int) -> TileReader:
        """Reads a tree's tiles on a pooled connection, taken only when some are
        missing from the cache."""
        async def read(missing: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            async with self._pool.acquire() as conn:
                return await log_store.read_tiles(conn, tree_id, missing)

        return read

    def _adopt(self, tree: log_store.TreeRow) -> None:
        if self._keyring is not None:
            self._signer = self._keyring.signer_for(tree)
        self.tree_id = tree.tree_id

    async def _head(self, conn: Any) -> log_store.TreeRow:
        return (await self._shards_in(conn)).active

    async def shards(self) -> Shards:
        async with self._pool.acquire() as conn:  # one statement: no transaction needed
            return await self._shards_in(conn)

    async def _tree(self, tree_id: int) -> log_store.TreeRow:
        """A tree's unchanging parts (offset, key); StorageError if it is unknown."""
        tree = self._trees.get(tree_id)
        if tree is None:
            shards = await self.shards()
            tree = shards.by_id(tree_id)
            if tree is None:
                raise StorageError(f"tree {tree_id} is not a tree of this log")
        return tree

    async def _follow_rotation(self) -> tuple[int, HeadSigner]:
        """The sequencer's hook after a rotation: the new active tree and its signer."""
        async with self._pool.acquire() as conn:
            active = (await self._shards_in(conn)).active
        signer = self.signer_for(active)
        if self.sequencer is not None:
            self.sequencer.sign_off_loop = not signs_in_memory(signer.signer)
        return active.tree_id, v1_head_signer(self.checkpoint_name, active.tree_id, signer)

    # ---- writes -----------------------------------------------------------------------

    def _sign_sets(self, tree: log_store.TreeRow, bodies: list[bytes],
                   integrated_time: int) -> list[bytes]:
        """The sequencer's SET signer: with the key of the tree the batch is locked in
        (after a rotation, the new tree's), at the virtual indexes from its size on."""
        return sign_batch_sets(self.signer_for(tree), bodies, integrated_time,
                               tree.virtual_offset + tree.size)

    async def append(self, entry: PreparedEntry) -> tuple[Integrated, list[bytes]]:
        """Append an entry: where it went, the head that first contained it, and its
        audit path at that head.  Raises ReadOnly, DuplicateEntry, LogFull, StorageError."""
        if self.sequencer is None:
            raise ReadOnly("this log server is read-only: send writes to a writable server")
        done: Integrated = await self.sequencer.submit(entry)
        proof = done.proof
        if proof is None:
            tree_id = done.head.tree_id
            proof = await inclusion_proof(self._pooled_tiles(tree_id), self.tiles_of(tree_id),
                                          done.leaf_index, entry.leaf_hash, done.head.size,
                                          done.head.root_hash)
        return done, proof

    async def create_entry(self, entry: PreparedEntry) -> EntryAnswer:
        """Append an entry and answer its LogEntry, with the proof against the
        head that first contained it.  Raises DuplicateEntry, LogFull, StorageError."""
        done, proof = await self.append(entry)
        tree = await self._tree(done.head.tree_id)
        row = log_store.EntryRow(tree.tree_id, done.leaf_index, entry.leaf_hash, entry.body,
                                 done.integrated_time, entry.attestation,
                                 signed_entry_timestamp=done.signed_entry_timestamp)
        return await self._log_entry(row, virtual_index=tree.virtual_offset + done.leaf_index,
                                     tree_size=done.head.size, root_hash=done.head.root_hash,
                                     checkpoint=done.head.checkpoint, proof=proof,
                                     signer=self.signer_for(tree))

    @staticmethod
    async def _log_entry(row: log_store.EntryRow, *, virtual_index: int, tree_size: int,
                         root_hash: bytes, checkpoint: str, proof: list[bytes],
                         signer: LogSigner) -> EntryAnswer:
        """log_entry with its SET: the one stored with the entry, else one signed now
        (in a thread when the key is in a token)."""
        signature = stored_signature(row, signer)
        if signature is None:
            sign = functools.partial(sign_set, signer, row.body, row.integrated_time,
                                     signer.log_id_hex, virtual_index)
            signature = (sign() if signs_in_memory(signer.signer)
                         else await asyncio.to_thread(sign))
        return log_entry(row, virtual_index=virtual_index, tree_size=tree_size,
                         root_hash=root_hash, checkpoint=checkpoint, proof=proof,
                         signer=signer, signature=signature)

    async def _prove_batch(self, leaves: list[tuple[int, bytes]], head: TreeHead
                           ) -> list[list[bytes]]:
        """The sequencer's prover: a committed batch's audit paths from the tile cache,
        which already holds the batch's own tile writes; what it lacks (tiles another
        process appended to, older tiles) is read in one query."""
        return await batch_inclusion_proofs(self._pooled_tiles(head.tree_id),
                                            self.tiles_of(head.tree_id), leaves,
                                            head.size, head.root_hash)

    # ---- reads ------------------------------------------------------------------------

    async def _proof(self, conn: Any, tree: log_store.TreeRow, row: log_store.EntryRow,
                     plan: merkle.ProofPlan | None = None) -> list[bytes]:
        """`conn`: an open connection to read missing tiles on (None: a pooled one)."""
        if plan is not None and plan.size != tree.size:
            plan = None  # made for the size last read, and the tree has grown since
        read = (self._pooled_tiles(tree.tree_id) if conn is None
                else tile_reader(conn, tree.tree_id))
        return await inclusion_proof(read, self.tiles_of(tree.tree_id), row.leaf_index,
                                     row.leaf_hash, tree.size, tree.root_hash, plan)

    async def _entry_response(self, conn: Any, tree: log_store.TreeRow,
                              row: log_store.EntryRow,
                              plan: merkle.ProofPlan | None = None) -> EntryAnswer:
        """The entry with its proof against its own tree's head (a frozen shard's
        final checkpoint), its virtual index, and its tree's key."""
        return await self._log_entry(row, virtual_index=tree.virtual_offset + row.leaf_index,
                                     tree_size=tree.size, root_hash=tree.root_hash,
                                     checkpoint=tree.checkpoint,
                                     proof=await self._proof(conn, tree, row, plan),
                                     signer=self.signer_for(tree))

    async def entries_with_proofs(self, leaf_indexes: Sequence[int]
                                  ) -> tuple[log_store.TreeRow,
                                             list[tuple[log_store.EntryRow, list[bytes]]]]:
        """The current head, and each entry at `leaf_indexes` inside it with its audit
        path at that head, read in one snapshot (indexes beyond the head are skipped)."""
        async with self._snapshot() as conn:
            tree = await self._head(conn)
            found = []
            for index in leaf_indexes:
                row = (await log_store.get_entry_by_index(conn, tree.tree_id, index)
                       if 0 <= index < tree.size else None)
                if row is not None:
                    found.append((row, await self._proof(conn, tree, row)))
            return tree, found

    async def get_by_index(self, log_index: int) -> EntryAnswer:
        """The entry at virtual index `log_index`, in whichever shard holds it.
        Raises EntryNotFound beyond the end of the log.

        Usually one statement: the trees, the entry where the trees last read put it,
        and the tiles its proof needs that the cache lacks (planned at the size last
        read).  No transaction is needed: entries below a head and tile prefixes
        never change, so tiles read later than the head (if the log grew and the plan
        needs more) still prove against it, and the proof is verified."""
        guess = self._guess(log_index) if log_index < _MAX_BIGINT else None
        if guess is None:
            return await self._get_by_index_snapshot(log_index)
        tree, leaf = guess
        cache = self.tiles_of(tree.tree_id)
        plan = merkle.inclusion_plan(leaf, max(tree.size, leaf + 1))
        shards, row, tiles = await self._read_with(tree.tree_id, leaf, cache.missing([plan]))
        cache.add(tiles)
        where = shards.locate(log_index)
        if where is None:
            raise EntryNotFound
        if where[0].tree_id != tree.tree_id or where[1] != leaf:
            # A rotation moved the index to another tree than guessed.
            return await self._get_by_index_snapshot(log_index)
        if row is None:
            raise EntryNotFound
        return await self._entry_response(None, where[0], row, plan)

    async def _get_by_index_snapshot(self, log_index: int) -> EntryAnswer:
        async with self._snapshot() as conn:
            where = (await self._shards_in(conn)).locate(log_index)
            row = None
            if where is not None:
                row = await log_store.get_entry_by_index(conn, where[0].tree_id, where[1])
            if row is None or where is None:
                raise EntryNotFound
            return await self._entry_response(conn, where[0], row)

    async def get_by_id(self, parsed: ParsedEntryID) -> EntryAnswer:
        """Raises EntryNotFound for an unknown UUID or another log's tree ID."""
        found = await self.find_by_ids([parsed])
        if not found:
            raise EntryNotFound
        return found[0]

    async def find_by_ids(self, ids: Sequence[ParsedEntryID]) -> list[EntryAnswer]:
        """Entries for each ID that exists, in request order; misses are omitted.  A
        bare UUID (no tree ID) finds the entry in the newest shard that holds it.

        One statement reads the trees and the entries (one snapshot, as for reads by
        index); proofs come from the tile cache, and tiles read later still prove
        against those heads (tiles only grow)."""
        if not ids:
            return []
        async with self._pool.acquire() as conn:
            trees, rows = await log_store.read_trees_with_leaf_hashes(
                conn, self.api_major, [p.leaf_hash for p in ids])
        shards = self._note(Shards.of(trees))
        found: dict[tuple[int, bytes], tuple[log_store.TreeRow, log_store.EntryRow]] = {}
        newest: dict[bytes, tuple[log_store.TreeRow, log_store.EntryRow]] = {}
        for row in rows:
            tree = shards.by_id(row.tree_id)
            if tree is None or row.leaf_index >= tree.size:
                continue
            found[(row.tree_id, row.leaf_hash)] = (tree, row)
            best = newest.get(row.leaf_hash)
            if best is None or best[0].virtual_offset <= tree.virtual_offset:
                newest[row.leaf_hash] = (tree, row)
        out = []
        for p in ids:
            hit = (newest.get(p.leaf_hash) if p.tree_id is None
                   else found.get((p.tree_id, p.leaf_hash)))
            if hit is not None:
                out.append(await self._entry_response(None, *hit))
        return out

    async def find_by_indexes(self, indexes: Sequence[int]) -> list[EntryAnswer]:
        out = []
        for index in indexes:
            try:
                out.append(await self.get_by_index(index))
            except EntryNotFound:
                continue
        return out

    async def log_info(self) -> LogInfo:
        """The active tree's head, and each frozen shard's final one (Rekor's
        `inactiveShards`, null when there is none)."""
        async with self._pool.acquire() as conn:  # one statement: no transaction needed
            shards = await self._shards_in(conn)
        tree = shards.active
        inactive = [InactiveShard(rootHash=t.root_hash.hex(), signedTreeHead=t.checkpoint,
                                  treeID=str(t.tree_id), treeSize=t.size)
                    for t in shards.inactive]
        return LogInfo(rootHash=tree.root_hash.hex(), signedTreeHead=tree.checkpoint,
                       treeID=str(tree.tree_id), treeSize=tree.size,
                       inactiveShards=inactive or None)

    async def consistency(self, first_size: int, last_size: int,
                          tree_id: int | None = None) -> ConsistencyProof:
        """Rekor's getLogProof (docs/rekor-compat.md#api-proof): the proof from first_size
        to last_size in tree `tree_id` (default: the active one), and that tree's
        CURRENT root.  Raises InvalidProofRequest for a tree not of this log."""
        if first_size > last_size:
            raise InvalidProofRequest(
                f"firstSize({first_size}) must be less than lastSize({last_size})")
        guess = self.tree_id if tree_id is None else tree_id
        # The plan depends on the two sizes only, so its tiles come with the head; only
        # for a tree read before (a cache per unknown treeID would be a leak) and sizes
        # a tree can have (a bigger one is refused below).
        cache = self._tile_caches.get(guess)
        wanted = (cache.missing([merkle.consistency_plan(first_size, last_size)])
                  if cache is not None and last_size < _MAX_BIGINT else [])
        shards, _, tiles = await self._read_with(guess, None, wanted)
        if cache is not None:
            cache.add(tiles)
        tree = shards.active if tree_id is None else shards.by_id(tree_id)
        if tree is None:
            raise InvalidProofRequest(f"no log range found for tree ID {tree_id}")
        if last_size > tree.size:
            raise InvalidProofRequest(
                f"the tree size requested({last_size}) was greater than what is "
                f"currently observable({tree.size})")
        proof = await consistency_proof(self._pooled_tiles(tree.tree_id),
                                        self.tiles_of(tree.tree_id), first_size, last_size)
        return ConsistencyProof(hashes=[h.hex() for h in proof], rootHash=tree.root_hash.hex())

    async def created_at(self, tree_id: int | None = None) -> datetime.datetime:
        """When the tree (default: the active one) was created: where its key's
        validity starts for clients."""
        async with self._pool.acquire() as conn:
            return await log_store.tree_created_at(conn, tree_id or self.tree_id)

    def public_key_pem(self) -> bytes:
        """The active tree's key."""
        return self.signer.public_key_pem

    async def tree_public_key_pem(self, tree_id: int | None) -> bytes:
        """The key of tree `tree_id` (None: the active tree).  Raises StorageError
        for a tree not of this log."""
        if tree_id is None:
            return self.public_key_pem()
        return self.signer_for(await self._tree(tree_id)).public_key_pem

    async def warm_tiles(self) -> int:
        """Read the active tree's full tiles into its proof cache while they fit
        (log/tile_warmup.py); the number of tiles read."""
        head = (await self.shards()).active
        return await warm_tile_cache(self._pool, self.tiles_of(head.tree_id), head.tree_id,
                                     head.size)

    # ---- the tile API (C2SP tlog-tiles) -------------------------------------------------

    async def head(self) -> log_store.TreeRow:
        """The committed tree head (size, root, Rekor checkpoint)."""
        async with self._pool.acquire() as conn:  # one statement: no transaction needed
            return await self._head(conn)

    async def read_tile(self, tile: merkle.TileID) -> tuple[int, bytes | None]:
        """The active tree's ID and the first tile.width hashes of its hash tile, or
        None if it does not hold that many yet (read in one statement with the head)."""
        key = (tile.level, tile.index)
        # An index past int64 names no stored tile (and would not bind as a bigint).
        keys = [key] if tile.index < _MAX_BIGINT else []
        guess = self.tree_id
        shards, _, found = await self._read_with(guess, None, keys)
        head = shards.active
        if not _tile_exists(tile, head.size):
            return head.tree_id, None
        if head.tree_id != guess:  # a rotation: the new active tree's tile
            shards, _, found = await self._read_with(head.tree_id, None, keys)
            head = shards.active
        data = found.get(key, b"")
        if len(data) < tile.width * merkle.HASH_SIZE:
            raise StorageError(f"tile {tile.path} of tree {head.tree_id} is short")
        return head.tree_id, data[: tile.width * merkle.HASH_SIZE]

    async def read_entry_bundle(self, tile: merkle.TileID) -> tuple[int, list[bytes] | None]:
        """The active tree's ID and the canonical bodies behind its level-0 tile
        `tile` (its first tile.width leaves), or None if it does not hold them all."""
        async with self._snapshot() as conn:
            head = await self._head(conn)
            if tile.level != 0 or not _tile_exists(tile, head.size):
                return head.tree_id, None
            start = tile.index * merkle.TILE_WIDTH
            return head.tree_id, await log_store.read_entry_bodies(conn, head.tree_id, start,
                                                                   start + tile.width)


# PostgreSQL's bigint bound: leaf indexes, sizes and tile indexes are below it.
_MAX_BIGINT = 1 << 63


def _tile_exists(tile: merkle.TileID, size: int) -> bool:
    """Whether a tree of `size` holds at least tile.width hashes of the tile."""
    try:
        return merkle.tile_for(tile.level, tile.index, size).width >= tile.width
    except ValueError:  # empty at this size, or an index past 2**64
        return False

