"""log/proofs.TileCache without a database: what it keeps, and proofs folded from it
equal the proofs over the leaf list, as the tree grows by its own writes and by
tiles read from storage."""

from __future__ import annotations

import hashlib

from rekor_py import merkle
from rekor_py.log.proofs import TileCache, batch_inclusion_proofs
from rekor_py.memory import cache_bytes


def _leaves(start: int, end: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(start, end)]


async def test_writes_and_reads_keep_expanded_tiles_that_prove() -> None:
    stored: dict[tuple[int, int], bytes] = {}
    reads: list[list[tuple[int, int]]] = []

    async def read(keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        reads.append(keys)
        return {k: stored[k] for k in keys if k in stored}

    ours, theirs = TileCache(), TileCache()  # the writer's process, another one
    leaves: list[bytes] = []
    edge = merkle.RightEdge.empty()
    for batch in (100, 156, 1, 300, 70_000):
        new = _leaves(len(leaves), len(leaves) + batch)
        result = merkle.append_leaves(edge, b"".join(new))
        for w in result.tiles:
            key = (w.level, w.index)
            stored[key] = stored.get(key, b"")[: w.start * 32] + w.hashes
        ours.apply_writes(result.tiles)
        edge, leaves = result.edge, leaves + new
        size, root = len(leaves), result.root_hash
        for index in sorted({i for i in (0, 255, 256, size // 2, size - 1) if i < size}):
            for cache in (ours, theirs):
                reads.clear()
                proof, = await batch_inclusion_proofs(read, cache, [(index, leaves[index])],
                                                      size, root)
                assert proof == merkle.inclusion_proof(leaves, index, size)
                if cache is ours:
                    assert not reads  # its own writes keep its cache whole
    # A partial tile read from storage and then extended by a write is extended, not
    # dropped: the writer never re-reads its own right edge.
    assert isinstance(ours._tiles.get((0, len(leaves) // 256)), merkle.ExpandedTile)


def test_tile_cache_add_keeps_the_wider_copy() -> None:
    cache = TileCache(max_bytes=1 << 20)
    hashes = b"".join(_leaves(0, 10))
    cache.add({(0, 0): hashes})
    cache.add({(0, 0): hashes[:64]})  # read with an older head
    kept = cache._tiles.get((0, 0))
    assert isinstance(kept, merkle.ExpandedTile) and kept.width == 10
    plan = merkle.inclusion_plan(3, 12)
    assert cache.missing([plan]) == [(0, 0)]  # 10 hashes, the plan needs 12
    assert cache.missing([merkle.inclusion_plan(3, 10)]) == []


def test_memory_shares() -> None:
    gib = 1 << 30
    assert cache_bytes(24 * gib) == 768 << 20
    assert cache_bytes(1 * gib) == 64 << 20  # the floor: the old fixed size
    assert cache_bytes(256 * gib) == gib
    assert 64 << 20 <= cache_bytes() <= gib
