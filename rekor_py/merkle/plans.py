"""Proof plans: which perfect subtrees (nodes) a proof needs, and which C2SP tiles
hold them, for inclusion, consistency, the right edge and subtrees [start, end).

A subtree [start, end) is an aligned leaf range whose hash a log can sign or a
certificate can carry (the Merkle Tree Certificates draft's "Subtrees"): valid
when start <= end and start is 0, equal to end, or a multiple of
BIT_CEIL(end - start).  The C side is merkle_ext/subtree.c.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import NamedTuple

from rekor_py.log.tile_path import TileID
from rekor_py.merkle._engine import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Failure,
    check,
    check_u64,
    ffi,
    lib,
    scratch,
    status_error,
)

__all__ = [
    "ProofPlan",
    "consistency_plan",
    "edge_plan",
    "inclusion_plan",
    "is_valid_subtree",
    "subtree_consistency_plan",
    "subtree_inclusion_plan",
    "tile_for",
]


class ProofPlan(NamedTuple):
    """Which perfect subtrees (nodes) a proof needs, and which tiles hold them.

    Proof element i is the right-to-left fold of the next `counts[i]` nodes.
    Tile widths are as of `size`, the tree size the proof is against.

    The nodes and counts stay packed as the C folds take them, and the tiles as
    (level, index, width) tuples: a read by index makes one plan per request,
    and building Python objects for what goes straight back to C cost ten
    times the planning itself.
    """

    size: int
    # (level, index) pairs of native uint64, one merkle_node each.
    node_words: bytes
    # One byte per proof element: how many nodes fold into it.
    count_bytes: bytes
    # (level, index, width) of each tile, in the order the C fold takes them.
    tile_slots: tuple[tuple[int, int, int], ...]

    @property
    def nodes(self) -> tuple[tuple[int, int], ...]:
        flat = array("Q", self.node_words)
        return tuple(zip(flat[0::2], flat[1::2], strict=True))

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(self.count_bytes)

    @property
    def tiles(self) -> tuple[TileID, ...]:
        return tuple(TileID(*slot) for slot in self.tile_slots)

    def __repr__(self) -> str:
        return (f"ProofPlan(size={self.size}, nodes={self.nodes}, counts={self.counts}, "
                f"tiles={self.tile_slots})")


def tile_for(level: int, index: int, size: int) -> TileID:
    """Tile (level, index) as it is at tree size `size`: full or partial.

    Raises ValueError if the tile holds no hash yet at that size.
    """
    check_u64("level", level)
    check_u64("index", index)
    complete = check_u64("size", size) >> (TILE_HEIGHT * level) if level < 8 else 0
    width = min(complete - index * TILE_WIDTH, TILE_WIDTH)
    if width <= 0:
        raise ValueError(f"tile {level}/{index} is empty at tree size {size}")
    return TileID(level, index, width)


def _plan_from(size: int, c_nodes: object, n_nodes: int, counts: bytes) -> ProofPlan:
    tiles_out = scratch("merkle_tile[]", lib.MERKLE_MAX_TILES)
    n_tiles = ffi.new("size_t *")
    check(lib.merkle_tiles_for_nodes(c_nodes, n_nodes, size, tiles_out, n_tiles), "plan")
    # merkle_tile is three uint64 fields: read the array out in one unpack.
    flat = ffi.unpack(ffi.cast("uint64_t *", tiles_out), 3 * n_tiles[0])
    it = iter(flat)
    return ProofPlan(size, ffi.buffer(c_nodes, ffi.sizeof("merkle_node") * n_nodes)[:], counts,
                     tuple(zip(it, it, it, strict=True)))


def _planned(size: int, what: str, run: Callable[[object, object, object, object], int],
             failure: Failure | None = None) -> ProofPlan:
    """The one way a plan is made: allocate the C outputs, `run(nodes, n_nodes,
    counts, n_elems)`, map its status to ValueError, read the plan for `size` out."""
    nodes = scratch("merkle_node[]", lib.MERKLE_MAX_NODES)
    counts = scratch("uint8_t[]", lib.MERKLE_MAX_ELEMS)
    n_nodes, n_elems = ffi.new("size_t *"), ffi.new("size_t *")
    status = run(nodes, n_nodes, counts, n_elems)
    error = status_error(status, failure, ValueError) if failure is not None else None
    if error is not None and status in _ARGUMENT_STATUSES:
        raise error
    check(status, what)
    return _plan_from(size, nodes, n_nodes[0], ffi.buffer(counts, n_elems[0])[:])


# Statuses a planner reports in its arguments' words; others keep the C message.
_ARGUMENT_STATUSES = (lib.MERKLE_E_SUBTREE, lib.MERKLE_E_INDEX, lib.MERKLE_E_SIZE)


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Plan the inclusion proof of leaf `index` in a tree of `size`.

    Requires 0 <= index < size.
    """
    check_u64("index", index)
    check_u64("size", size)
    if index >= size:
        raise ValueError(f"index {index} is not below tree size {size}")
    return _planned(size, "inclusion_plan", lambda *out: int(
        lib.merkle_inclusion_plan(index, size, *out)))


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """Plan the consistency proof from size1 to size2.

    Requires 0 <= size1 <= size2; the plan is empty if size1 is 0 or size2.
    """
    check_u64("size1", size1)
    check_u64("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is greater than size2 {size2}")
    return _planned(size2, "consistency_plan", lambda *out: int(
        lib.merkle_consistency_plan(size1, size2, *out)))


def edge_plan(size: int) -> ProofPlan:
    """Plan reading the right edge (compact range) of a tree of `size` from tiles."""
    check_u64("size", size)
    nodes = scratch("merkle_node[]", lib.MERKLE_MAX_EDGE)
    n_nodes = ffi.new("size_t *")
    check(lib.merkle_edge_plan(size, nodes, n_nodes), "edge_plan")
    return _plan_from(size, nodes, n_nodes[0], b"\x01" * n_nodes[0])


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether [start, end) is a valid subtree (either bound outside [0, 2**64): False)."""
    try:
        check_u64("start", start)
        check_u64("end", end)
    except ValueError:
        return False
    return bool(lib.merkle_subtree_check(start, end) == lib.MERKLE_OK)


def subtree_inclusion_plan(index: int, start: int, end: int) -> ProofPlan:
    """Plan the inclusion proof of leaf `index` in the subtree [start, end).

    Requires a valid subtree and start <= index < end; raises ValueError otherwise.
    The nodes are complete at tree size `end`, the plan's `size`.
    """
    check_u64("index", index)
    check_u64("start", start)
    check_u64("end", end)
    return _planned(end, "subtree_inclusion_plan", lambda *out: int(
        lib.merkle_subtree_inclusion_plan(index, start, end, *out)),
        Failure("subtree inclusion", index=index, start=start, end=end))


def subtree_consistency_plan(start: int, end: int, size: int) -> ProofPlan:
    """Plan the proof that the subtree [start, end) is part of the tree of `size`.

    Requires a valid subtree and end <= size; the plan is empty if start == end,
    or if [start, end) is the whole tree.  Raises ValueError otherwise.
    """
    check_u64("start", start)
    check_u64("end", end)
    check_u64("size", size)
    return _planned(size, "subtree_consistency_plan", lambda *out: int(
        lib.merkle_subtree_consistency_plan(start, end, size, *out)),
        Failure("subtree consistency", start=start, end=end, size=size))


def c_plan(plan: ProofPlan) -> tuple[object, int, bytes]:
    """A plan's nodes, their number, and its counts, as the C folds take them."""
    n_nodes = len(plan.node_words) // ffi.sizeof("merkle_node")
    if n_nodes > lib.MERKLE_MAX_NODES or len(plan.count_bytes) > lib.MERKLE_MAX_ELEMS:
        raise ValueError("plan is larger than any proof can be")
    return ffi.from_buffer("merkle_node[]", plan.node_words), n_nodes, plan.count_bytes
