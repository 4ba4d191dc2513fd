"""The appender: a tree's right edge (compact range), and appending leaves to it,
reporting exactly the tile hashes that become new."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from rekor_py.merkle._engine import (
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    U64_LIMIT,
    LeafHashes,
    check,
    check_hash,
    check_u64,
    digest,
    ffi,
    joined_hashes,
    lib,
    split,
)
from rekor_py.merkle.folds import TileData, fold_proof
from rekor_py.merkle.plans import ProofPlan

__all__ = ["AppendResult", "RightEdge", "TileWrite", "append_leaves", "fold_edge"]

_MAX_TILE_LEVELS: int = lib.MERKLE_MAX_TILE_LEVELS


@dataclass(frozen=True, slots=True)
class RightEdge:
    """Compact range of a tree: the perfect-subtree roots for the set bits of
    `size`, largest (leftmost) first.  Enough to append and to compute the root."""

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        check_u64("size", self.size)
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(f"a right edge at size {self.size} has {self.size.bit_count()} "
                             f"hashes, got {len(self.hashes)}")
        for i, h in enumerate(self.hashes):
            check_hash(f"hashes[{i}]", h)

    @classmethod
    def empty(cls) -> RightEdge:
        return cls(0, ())

    def root_hash(self) -> bytes:
        out = ffi.new("uint8_t[32]")
        check(lib.merkle_edge_root(b"".join(self.hashes), len(self.hashes), self.size, out),
              "root_hash")
        return digest(out)


def fold_edge(plan: ProofPlan, tiles: Mapping[tuple[int, int], TileData]) -> RightEdge:
    """The right edge at `plan.size`, from a plan made by `edge_plan`."""
    return RightEdge(plan.size, tuple(fold_proof(plan, tiles)))


@dataclass(frozen=True, slots=True)
class TileWrite:
    """New hashes for tile (level, index) at positions start, start+1, ..."""

    level: int
    index: int
    start: int
    hashes: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append changed: the new edge and root, and exactly the new stored hashes."""

    edge: RightEdge
    root_hash: bytes
    tiles: tuple[TileWrite, ...]

    def stored_hashes(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Each new stored hash as (level, tile index, position, hash)."""
        for w in self.tiles:
            for i in range(len(w.hashes) // HASH_SIZE):
                yield w.level, w.index, w.start + i, w.hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]


def _tile_writes(level: int, first: int, hashes: memoryview) -> Iterator[TileWrite]:
    """Split the new hashes of one level, global positions first.., by tile."""
    pos, end = first, first + len(hashes) // HASH_SIZE
    while pos < end:
        stop = min(end, (pos // TILE_WIDTH + 1) * TILE_WIDTH)
        chunk = bytes(hashes[(pos - first) * HASH_SIZE : (stop - first) * HASH_SIZE])
        yield TileWrite(level, pos // TILE_WIDTH, pos % TILE_WIDTH, chunk)
        pos = stop


def append_leaves(edge: RightEdge, leaf_hashes: LeafHashes) -> AppendResult:
    """Append leaf hashes (a sequence or packed) to the tree whose right edge is `edge`.

    Raises ValueError for a hash that is not 32 bytes or a size past 2**64 - 1.
    """
    joined = joined_hashes("leaf_hashes", leaf_hashes)
    k, size = len(joined) // HASH_SIZE, edge.size
    if size + k >= U64_LIMIT:
        raise ValueError("tree size would overflow 64 bits")
    firsts = [size >> (TILE_HEIGHT * L) for L in range(_MAX_TILE_LEVELS)]
    total = sum(((size + k) >> (TILE_HEIGHT * L)) - firsts[L] for L in range(_MAX_TILE_LEVELS))
    stored = bytearray(total * HASH_SIZE)
    new_edge = ffi.new("uint8_t[]", lib.MERKLE_MAX_EDGE * HASH_SIZE)
    n_edge = ffi.new("size_t *")
    root = ffi.new("uint8_t[32]")
    counts = ffi.new("uint64_t[]", _MAX_TILE_LEVELS)
    status = lib.merkle_append(b"".join(edge.hashes), len(edge.hashes), size, joined, k,
                               new_edge, n_edge, root, ffi.from_buffer(stored), total, counts)
    check(status, "append_leaves")
    writes: list[TileWrite] = []
    at, view = 0, memoryview(stored)
    for level in range(_MAX_TILE_LEVELS):
        n = counts[level]
        level_hashes = view[at * HASH_SIZE : (at + n) * HASH_SIZE]
        writes.extend(_tile_writes(level, firsts[level], level_hashes))
        at += n
    edge_bytes = bytes(ffi.buffer(new_edge, n_edge[0] * HASH_SIZE))
    return AppendResult(
        edge=RightEdge(size + k, tuple(split(edge_bytes))),
        root_hash=digest(root),
        tiles=tuple(writes),
    )
