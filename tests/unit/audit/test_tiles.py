"""audit.tiles: tile counts per size, and the streaming tile comparison against a fake store."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from rekor_py import merkle
from rekor_py.audit.report import DiscrepancyFound
from rekor_py.audit.tiles import TileChecker, expected_tile_counts


def _leaves(n: int) -> bytes:
    return b"".join(merkle.leaf_hash(hashlib.sha256(i.to_bytes(4, "big")).digest()) for i in range(n))


def _store(leaves: bytes) -> dict[tuple[int, int], bytes]:
    """Tiles as the sequencer stores them, from one append of every leaf."""
    tiles: dict[tuple[int, int], bytes] = {}
    for w in merkle.append_leaves(merkle.RightEdge.empty(), leaves).tiles:
        tiles[(w.level, w.index)] = tiles.get((w.level, w.index), b"") + w.hashes
    return tiles


def _checker(tiles: dict[tuple[int, int], bytes]) -> TileChecker:
    async def read(keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {k: tiles[k] for k in keys if k in tiles}
    return TileChecker(1, read)


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 65535, 65536, 65537, 1 << 24])
def test_expected_tile_counts(size: int) -> None:
    counts = expected_tile_counts(size)
    level_sizes = [size >> (8 * level) for level in range(8)]
    assert counts == [-(-n // 256) for n in level_sizes if n]


@pytest.mark.parametrize("batches", [[1], [256], [300], [1, 255, 1, 300, 99], [70_000 - 13, 13]])
async def test_clean_tiles_in_any_batches(batches: list[int]) -> None:
    leaves = _leaves(sum(batches))
    tiles = _store(leaves)
    checker, at = _checker(tiles), 0
    for n in batches:
        await checker.append(leaves[at * 32:(at + n) * 32])
        at += n
    assert await checker.finish() == merkle.root_hash(leaves)
    assert checker.tiles_checked == len(tiles) == sum(expected_tile_counts(at))


async def test_a_changed_hash_is_located() -> None:
    leaves = _leaves(600)
    tiles = _store(leaves)
    bad = bytearray(tiles[(1, 0)])
    bad[32] ^= 1
    tiles[(1, 0)] = bytes(bad)
    checker = _checker(tiles)
    await checker.append(leaves)
    with pytest.raises(DiscrepancyFound) as e:
        await checker.finish()
    assert e.value.discrepancy.where == "tile 1/0 hash 1"
    assert "leaves [256, 512)" in e.value.discrepancy.message
