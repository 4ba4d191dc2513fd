"""Inclusion and consistency proofs from stored tiles, with a tile cache.

A proof takes three steps: the Merkle engine plans which tiles hold the nodes,
the tiles come from the cache or from Postgres in one query, and the engine
folds them.  Every inclusion proof is verified against its root before it
leaves this module.

The cache is safe across processes without invalidation: a tile only ever grows
by appending (full tiles never change), so a cached tile is valid for every
proof that needs no more hashes than it holds; a shorter one is re-read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from rekor_py import merkle
from rekor_py.errors import StorageError
from rekor_py.lru import ByteLRU
from rekor_py.memory import cache_bytes
from rekor_py.storage import log_store

__all__ = ["TileCache", "batch_inclusion_proofs", "consistency_proof", "inclusion_proof"]

TileKey = tuple[int, int]
# Reads the named tiles from storage (one query).
TileReader = Callable[[list[TileKey]], Awaitable[dict[TileKey, bytes]]]


def _weight(key: TileKey, data: merkle.TileData) -> int:
    return len(data.data) if isinstance(data, merkle.ExpandedTile) else len(data)


def _width(data: merkle.TileData) -> int:
    return data.width if isinstance(data, merkle.ExpandedTile) else len(data) // merkle.HASH_SIZE


class TileCache:
    """Per-process cache of one tree's tiles, least recently used evicted.

    Tiles are kept expanded (all their subtree hashes, computed once), so proofs
    read nodes instead of rehashing them: a full tile never changes, and a
    right-edge partial tile is used by every proof at the current size until the
    tree grows past it (folding its 100s of hashes raw on every read cost more
    than the rest of the fold)."""

    def __init__(self, max_bytes: int | None = None) -> None:
        # Bounded by bytes: an expanded tile weighs twice a raw one.  64 MiB holds
        # ~4,000 expanded tiles, the top levels of a large log; by default a share of
        # the machine's memory (cache_bytes), enough for the level-0 tiles of a
        # 10M-entry log on a 24 GiB machine, so random reads stop fetching them.
        self._tiles: ByteLRU[TileKey, merkle.TileData] = ByteLRU(
            cache_bytes() if max_bytes is None else max_bytes, _weight)

    def full_tile(self, key: TileKey) -> bytes | None:
        """The tile's stored hashes if it is cached full (then it never changes)."""
        data = self._tiles.get(key)
        if data is None or _width(data) < merkle.TILE_WIDTH:
            return None
        return data.tile if isinstance(data, merkle.ExpandedTile) else data

    @property
    def room(self) -> int:
        """Bytes the cache can take before it evicts."""
        return self._tiles.max_bytes - self._tiles.bytes_used

    def _put(self, key: TileKey, data: bytes) -> merkle.TileData:
        value = merkle.ExpandedTile.from_tile(data)
        self._tiles.put(key, value)
        return value

    def apply_writes(self, writes: Sequence[merkle.TileWrite]) -> None:
        """Extend cached tiles with a committed batch's writes (ours only)."""
        for w in writes:
            key = (w.level, w.index)
            old = self._tiles.get(key)
            stored = b"" if old is None else old.tile if isinstance(old, merkle.ExpandedTile) else old
            if len(stored) == w.start * merkle.HASH_SIZE:
                self._put(key, stored + w.hashes)
            else:
                self._tiles.pop(key)  # we missed another process's append

    @staticmethod
    def _widths(plans: Sequence[merkle.ProofPlan]) -> dict[TileKey, int]:
        wanted: dict[TileKey, int] = {}
        for plan in plans:
            for level, index, width in plan.tile_slots:
                key = (level, index)
                if wanted.get(key, 0) < width:
                    wanted[key] = width
        return wanted

    def missing(self, plans: Sequence[merkle.ProofPlan]) -> list[TileKey]:
        """The tiles the plans need that are not cached at least as wide as they need:
        what a read should fetch along with its tree head."""
        return [key for key, width in self._widths(plans).items()
                if (data := self._tiles.get(key)) is None or _width(data) < width]

    def add(self, found: Mapping[TileKey, bytes]) -> None:
        """Keep tiles read from storage, unless a wider copy is cached already (a
        tile read with an older head is a prefix of the newer one)."""
        for key, raw in found.items():
            cached = self._tiles.get(key)
            if cached is None or _width(cached) < len(raw) // merkle.HASH_SIZE:
                self._put(key, raw)

    async def tiles_for_plans(self, plans: Sequence[merkle.ProofPlan], read: TileReader
                              ) -> dict[TileKey, merkle.TileData]:
        """Tiles at least as wide as the plans need; the misses are read with one call
        of `read`, made only if some are missing."""
        found: dict[TileKey, merkle.TileData] = {}
        missing: list[TileKey] = []
        for key, width in self._widths(plans).items():
            data = self._tiles.get(key)
            if data is not None and _width(data) >= width:
                found[key] = data
            else:
                missing.append(key)
        if missing:
            for key, raw in (await read(missing)).items():
                found[key] = self._put(key, raw)
        return found


def tile_reader(conn: Any, tree_id: int) -> TileReader:
    """Reads a tree's tiles on an open connection."""
    async def read(missing: list[TileKey]) -> dict[TileKey, bytes]:
        return await log_store.read_tiles(conn, tree_id, missing)

    return read


async def inclusion_proof(read: TileReader, cache: TileCache, leaf_index: int,
                          leaf_hash: bytes, size: int, root_hash: bytes,
                          plan: merkle.ProofPlan | None = None) -> list[bytes]:
    """The audit path of a stored leaf at tree `size`, verified against `root_hash`;
    `plan`: its inclusion_plan, if the caller made it already; `read`: how to read
    the tree's tiles the cache lacks.

    Raises StorageError if the stored tiles do not prove the leaf (a corrupt tree).
    """
    proofs = await batch_inclusion_proofs(read, cache, [(leaf_index, leaf_hash)], size,
                                          root_hash, None if plan is None else [plan])
    return proofs[0]


async def batch_inclusion_proofs(read: TileReader, cache: TileCache,
                                 leaves: Sequence[tuple[int, bytes]], size: int,
                                 root_hash: bytes,
                                 plans: Sequence[merkle.ProofPlan] | None = None
                                 ) -> list[list[bytes]]:
    """The audit paths of several leaves (index, leaf hash) at one tree head, each
    verified against `root_hash`, with the tiles they share fetched once: what a
    committed batch's entries need for their answers.  `plans`: their
    inclusion_plans at `size`, if the caller made them already."""
    if plans is None:
        plans = [merkle.inclusion_plan(index, size) for index, _ in leaves]
    tiles = await cache.tiles_for_plans(plans, read)
    proofs = []
    for plan, (index, leaf_hash) in zip(plans, leaves, strict=True):
        try:
            packed = merkle.fold_packed(plan, tiles)
            merkle.verify_inclusion_packed(leaf_hash, index, size, packed, root_hash)
        except ValueError as e:
            raise StorageError(f"stored tiles do not prove leaf {index}") from e
        proofs.append(merkle.split_hashes(packed))
    return proofs


async def consistency_proof(read: TileReader, cache: TileCache, size1: int,
                            size2: int) -> list[bytes]:
    """The RFC 6962 consistency proof from size1 to size2 (both <= the tree size);
    `read`: how to read the tree's tiles the cache lacks."""
    plan = merkle.consistency_plan(size1, size2)
    tiles = await cache.tiles_for_plans([plan], read)
    try:
        return merkle.fold_proof(plan, tiles)
    except ValueError as e:
        raise StorageError(f"stored tiles cannot prove {size1} -> {size2}") from e
