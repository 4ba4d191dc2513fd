"""Folding planned proofs: from C2SP tiles (as stored, or expanded) or from an
in-memory list of leaf hashes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rekor_py.log.tile_path import TileID
from rekor_py.merkle._engine import (
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    check,
    ffi,
    lib,
    scratch,
    split,
)
from rekor_py.merkle.plans import ProofPlan, c_plan

__all__ = ["ExpandedTile", "TileData", "fold_leaves", "fold_packed", "fold_proof"]


@dataclass(frozen=True, slots=True)
class ExpandedTile:
    """Every subtree hash a tile of `width` hashes determines (511 for a full
    tile), so that folding reads nodes instead of rebuilding them.  Full tiles
    never change: a server computes this once per tile and caches it."""

    width: int
    data: bytes

    @classmethod
    def from_tile(cls, tile: bytes) -> ExpandedTile:
        """Expand tile bytes (1 to 256 hashes)."""
        width, rest = divmod(len(tile), HASH_SIZE)
        if rest or not 1 <= width <= TILE_WIDTH:
            raise ValueError(f"a tile is 1 to {TILE_WIDTH} hashes, got {len(tile)} bytes")
        count = sum(width >> r for r in range(TILE_HEIGHT + 1))
        out = bytearray(count * HASH_SIZE)
        check(lib.merkle_expand_tile(tile, width, ffi.from_buffer(out), count), "expand_tile")
        return cls(width, bytes(out))

    @property
    def tile(self) -> bytes:
        """The stored hashes themselves (the first level of the expansion)."""
        return self.data[: self.width * HASH_SIZE]


TileData = bytes | ExpandedTile
"""A tile's bytes as stored, or its expansion."""


def fold_proof(plan: ProofPlan, tiles: Mapping[tuple[int, int], TileData]) -> list[bytes]:
    """Fold the tiles a plan named into its proof hashes.

    `tiles` maps (level, index) to tile bytes or an ExpandedTile, either of which
    may be wider than the plan needs (tiles only grow).  Raises ValueError for a
    missing or short tile.
    """
    return split(fold_packed(plan, tiles))


def fold_packed(plan: ProofPlan, tiles: Mapping[tuple[int, int], TileData]) -> bytes:
    """fold_proof's hashes as one bytes, 32 each: what verify_inclusion_packed takes."""
    refs = scratch("merkle_tile_ref[]", len(plan.tile_slots))
    keep = []  # buffers must outlive the C call
    for i, (level, index, need) in enumerate(plan.tile_slots):
        found = tiles.get((level, index))
        if found is None:
            raise ValueError(f"tile {TileID(level, index, need).path} is missing")
        if isinstance(found, ExpandedTile):
            data, width, expanded = found.data, found.width, True
        else:
            data, width, expanded = found, len(found) // HASH_SIZE, False
            if len(data) % HASH_SIZE:
                width = -1
        if width < need:
            raise ValueError(f"tile {TileID(level, index, need).path} has {max(width, 0)} "
                             f"hashes, needs {need}")
        buf = ffi.from_buffer(data)
        keep.append(buf)
        refs[i] = (level, index, min(width, TILE_WIDTH), expanded, buf)
    nodes, n_nodes, counts = c_plan(plan)
    out = bytearray(HASH_SIZE * len(counts))
    status = lib.merkle_fold_tiles(nodes, n_nodes, counts, len(counts), refs,
                                   len(plan.tile_slots), ffi.from_buffer(out))
    check(status, "fold_proof")
    return bytes(out)


def fold_leaves(plan: ProofPlan, leaves: bytes) -> list[bytes]:
    """Fold a plan from packed leaf hashes (the whole tree the plan is against)."""
    nodes, n_nodes, counts = c_plan(plan)
    out = bytearray(HASH_SIZE * len(counts))
    status = lib.merkle_fold_leaves(nodes, n_nodes, counts, len(counts), leaves,
                                    len(leaves) // HASH_SIZE, ffi.from_buffer(out))
    check(status, "fold")
    return split(bytes(out))
