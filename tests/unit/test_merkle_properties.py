"""rekor_py.merkle against the pure-Python RFC 6962 reference (tests/reference/rfc6962.py).

Trees are built from distinct pseudo-random leaf hashes (SHA-256 of a seed and the
position), so no two leaves or subtrees coincide by accident.  Small trees are
checked exhaustively, bigger ones (up to ~3000 leaves) by hypothesis sampling, and
the tile boundaries at 256 and 65,536 leaves on one deterministic 70,000-leaf tree.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekor_py import merkle
from rekor_py.merkle import ProofError, RightEdge, TileID
from tests.reference import rfc6962 as ref

H = merkle.HASH_SIZE
W = merkle.TILE_WIDTH
U64 = 1 << 64

SMALL = 70  # trees up to this size are checked exhaustively
LARGE = 3000  # hypothesis samples trees up to this size
BIG = 70_000  # the deterministic tree that reaches tile level 2 (65,536 leaves)

SAMPLED = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@functools.cache
def make_leaves(seed: int, n: int) -> tuple[bytes, ...]:
    """n distinct leaf hashes, deterministic in seed."""
    prefix = seed.to_bytes(8, "big")
    return tuple(hashlib.sha256(prefix + i.to_bytes(8, "big")).digest() for i in range(n))


@functools.cache
def big_tree() -> tuple[tuple[bytes, ...], dict[tuple[int, int], bytes]]:
    """The 70,000-leaf tree and its reference tiles at full size."""
    leaves = make_leaves(0xB16, BIG)
    return leaves, ref.tiles_at(leaves, BIG)


# ---- verdict helpers: the facade and the reference must always agree -------------------


def inclusion_verdict(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                      root: bytes) -> bool:
    """Both verifiers' verdict (asserting they agree); the facade must say no with
    ProofError, never another exception."""
    want = ref.verify_inclusion(leaf, index, size, proof, root)
    try:
        merkle.verify_inclusion(leaf, index, size, list(proof), root)
        got = True
    except ProofError:
        got = False
    assert got == want, f"facade says {got}, reference {want}: index {index} size {size}"
    if all(len(h) == H for h in proof):
        try:
            merkle.verify_inclusion_packed(leaf, index, size, b"".join(proof), root)
            packed = True
        except ProofError:
            packed = False
        assert packed == want, f"packed says {packed}, reference {want}: index {index} size {size}"
    return want


def consistency_verdict(size1: int, size2: int, proof: Sequence[bytes], root1: bytes,
                        root2: bytes) -> bool:
    want = ref.verify_consistency(size1, size2, proof, root1, root2)
    try:
        merkle.verify_consistency(size1, size2, list(proof), root1, root2)
        got = True
    except ProofError:
        got = False
    assert got == want, f"facade says {got}, reference {want}: sizes {size1} -> {size2}"
    return want


def flip(h: bytes, bit: int) -> bytes:
    bit %= 8 * len(h)
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def fold_nodes(plan: merkle.ProofPlan, leaves: Sequence[bytes]) -> list[bytes]:
    """A plan's proof computed from the reference: element i is the right-to-left
    fold of its counts[i] consecutive (height, index) perfect subtrees."""
    out, at = [], 0
    for count in plan.counts:
        group = [ref.subtree_hash(leaves, h, i) for h, i in plan.nodes[at : at + count]]
        acc = group[-1]
        for left in reversed(group[:-1]):
            acc = ref.node_hash(left, acc)
        out.append(acc)
        at += count
    assert at == len(plan.nodes)
    return out


# ---- hashing ------------------------------------------------------------------------------


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_leaf_hash_is_sha256(data: bytes) -> None:
    assert merkle.leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()
    assert merkle.leaf_hash(data) == ref.leaf_hash(data)


@given(st.lists(st.binary(max_size=300), max_size=80))
@settings(max_examples=100, deadline=None)
def test_leaf_hashes_is_sha256(entries: list[bytes]) -> None:
    assert merkle.leaf_hashes(entries) == [hashlib.sha256(b"\x00" + e).digest()
                                           for e in entries]


def test_leaf_hashes_large_batch() -> None:
    # Big enough for the chunked (and, with several cores, threaded) path.
    entries = [bytes([i % 251]) * (i % 97) + i.to_bytes(4, "big") for i in range(70_000)]
    assert merkle.leaf_hashes(entries) == [hashlib.sha256(b"\x00" + e).digest()
                                           for e in entries]


@given(st.binary(min_size=H, max_size=H), st.binary(min_size=H, max_size=H))
@settings(max_examples=200, deadline=None)
def test_node_hash_is_sha256(left: bytes, right: bytes) -> None:
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@given(st.lists(st.binary(min_size=2 * H, max_size=2 * H), max_size=300))
@settings(max_examples=100, deadline=None)
def test_node_hashes_is_sha256(pairs: list[bytes]) -> None:
    want = b"".join(hashlib.sha256(b"\x01" + p).digest() for p in pairs)
    assert merkle.node_hashes(b"".join(pairs)) == want


@given(seeds, st.integers(0, SMALL))
@settings(max_examples=30, deadline=None)
def test_root_hash_every_prefix(seed: int, n: int) -> None:
    leaves = make_leaves(seed, n)
    for size in range(n + 1):
        assert merkle.root_hash(leaves[:size]) == ref.mth(leaves[:size]), size


def test_root_hash_across_tile_boundaries() -> None:
    leaves, _ = big_tree()
    for size in (255, 256, 257, 511, 512, 513, 65535, 65536, 65537, BIG):
        assert merkle.root_hash(leaves[:size]) == ref.mth(leaves[:size]), size


# ---- inclusion proofs -------------------------------------------------------------------


def check_inclusion(leaves: Sequence[bytes], index: int, size: int, other: int,
                    bit: int) -> None:
    """The proof equals the reference, verifies, and every mutation is rejected.

    `other` picks a wrong index / size and `bit` the bit to flip."""
    tree = leaves[:size]
    proof = merkle.inclusion_proof(leaves, index, size)
    assert proof == ref.path(index, tree)
    root, leaf = ref.mth(tree), leaves[index]
    assert inclusion_verdict(leaf, index, size, proof, root)

    # The plan behind the proof names exactly the right perfect subtrees.
    assert fold_nodes(merkle.inclusion_plan(index, size), tree) == proof

    # Flipped bits anywhere: in a proof hash, the leaf, the root.
    if proof:
        k = bit % len(proof)
        assert not inclusion_verdict(leaf, index, size,
                                     proof[:k] + [flip(proof[k], bit)] + proof[k + 1 :], root)
    assert not inclusion_verdict(flip(leaf, bit), index, size, proof, root)
    assert not inclusion_verdict(leaf, index, size, proof, flip(root, bit))
    # A hash dropped, appended or prepended.
    if proof:
        k = bit % len(proof)
        assert not inclusion_verdict(leaf, index, size, proof[:k] + proof[k + 1 :], root)
    assert not inclusion_verdict(leaf, index, size, proof + [root], root)
    assert not inclusion_verdict(leaf, index, size, [leaf] + proof, root)
    # The wrong index (the leaves are distinct, so no other position has this
    # audit path), or one out of range.
    if size > 1:
        wrong = (index + 1 + other % (size - 1)) % size
        assert not inclusion_verdict(leaf, wrong, size, proof, root)
    assert not inclusion_verdict(leaf, size, size, proof, root)
    # The wrong size.  Against the real root of that size, the proof verifies
    # exactly when it is that tree's audit path too (as for index 0 of sizes 3
    # and 4).  Against the original root, the RFC 9162 algorithm only consults the
    # size for the shape of the path, so it accepts when the shapes agree; the
    # verifiers must still agree, and must reject when the lengths differ.
    if len(leaves) > index + 1:
        size2 = index + 1 + other % (len(leaves) - index - 1)  # in [index + 1, n - 1]
        if size2 >= size:
            size2 += 1  # now in [index + 1, n], never size
        path2 = ref.path(index, leaves[:size2])
        assert (inclusion_verdict(leaf, index, size2, proof, ref.mth(leaves[:size2]))
                == (path2 == proof))
        if inclusion_verdict(leaf, index, size2, proof, root):
            assert len(path2) == len(proof)


@pytest.mark.parametrize("size", range(1, SMALL + 1))
def test_inclusion_exhaustive(size: int) -> None:
    leaves = make_leaves(1, SMALL)
    for index in range(size):
        check_inclusion(leaves, index, size, other=index * 7 + size, bit=index * 37 + size)


@given(seeds, st.integers(1, LARGE), st.integers(0, U64 - 1), st.integers(0, U64 - 1),
       st.integers(0, 255))
@SAMPLED
def test_inclusion_sampled(seed: int, size: int, index: int, other: int, bit: int) -> None:
    leaves = make_leaves(seed, LARGE)
    check_inclusion(leaves, index % size, size, other, bit)


# ---- consistency proofs ------------------------------------------------------------------


def check_consistency(leaves: Sequence[bytes], size1: int, size2: int, other: int,
                      bit: int) -> None:
    """The proof equals the reference, verifies, and every mutation is rejected."""
    proof = merkle.consistency_proof(leaves, size1, size2)
    assert proof == ref.proof(size1, leaves[:size2])
    root1, root2 = ref.mth(leaves[:size1]), ref.mth(leaves[:size2])
    assert fold_nodes(merkle.consistency_plan(size1, size2), leaves[:size2]) == proof

    if size1 == 0 and size2 > 0:
        # Nothing to prove about the empty tree: both verifiers refuse.
        assert not consistency_verdict(size1, size2, proof, root1, root2)
        return
    assert consistency_verdict(size1, size2, proof, root1, root2)

    if proof:
        k = bit % len(proof)
        bad = proof[:k] + [flip(proof[k], bit)] + proof[k + 1 :]
        assert not consistency_verdict(size1, size2, bad, root1, root2)
        assert not consistency_verdict(size1, size2, proof[:k] + proof[k + 1 :], root1, root2)
    assert not consistency_verdict(size1, size2, proof, flip(root1, bit), root2)
    assert not consistency_verdict(size1, size2, proof, root1, flip(root2, bit))
    assert not consistency_verdict(size1, size2, proof + [root2], root1, root2)
    assert not consistency_verdict(size1, size2, [root1] + proof, root1, root2)
    assert not consistency_verdict(size2 + 1, size2, proof, root1, root2)
    # Wrong sizes, against the real roots of those sizes: accepted exactly when the
    # proof is also the proof between those sizes.  Against the original roots the
    # verifiers must agree (and reject when the expected proof length differs).
    n = len(leaves)
    wrong1 = 1 + other % max(size2, 1)  # in [1, size2]
    wrong2 = max(size1, 1) + other % (n - max(size1, 1) + 1)  # in [max(size1, 1), n]
    for s1, s2 in ((wrong1, size2), (size1, wrong2)):
        if (s1, s2) == (size1, size2) or s1 == 0 or s1 > s2:
            continue
        want = ref.proof(s1, leaves[:s2])
        assert (consistency_verdict(s1, s2, proof, ref.mth(leaves[:s1]), ref.mth(leaves[:s2]))
                == (want == proof))
        if consistency_verdict(s1, s2, proof, root1, root2):
            assert len(want) == len(proof)


@pytest.mark.parametrize("size2", range(SMALL + 1))
def test_consistency_exhaustive(size2: int) -> None:
    leaves = make_leaves(2, SMALL)
    for size1 in range(size2 + 1):
        check_consistency(leaves, size1, size2, other=size1 * 11 + size2, bit=size1 * 29)


@given(seeds, st.integers(0, LARGE), st.integers(0, U64 - 1), st.integers(0, U64 - 1),
       st.integers(0, 255))
@SAMPLED
def test_consistency_sampled(seed: int, size2: int, size1: int, other: int, bit: int) -> None:
    leaves = make_leaves(seed, LARGE)
    check_consistency(leaves, size1 % (size2 + 1), size2, other, bit)


# ---- the appender -------------------------------------------------------------------------


def apply_writes(tiles: dict[tuple[int, int], bytearray], writes: Sequence[Any]) -> None:
    """Apply TileWrites to a store of tiles; tiles only grow, at their end."""
    for w in writes:
        assert 0 <= w.start < W and w.hashes and len(w.hashes) % H == 0, w[:3]
        assert w.start + len(w.hashes) // H <= W, w[:3]
        tile = tiles.setdefault((w.level, w.index), bytearray())
        assert len(tile) == w.start * H, f"write {w[:3]} is not at the end of the tile"
        tile += w.hashes


def expected_new_hashes(leaves: Sequence[bytes], before: int,
                        after: int) -> dict[tuple[int, int], bytes]:
    """(level, position) -> hash for each perfect subtree of height 0, 8, 16, ...
    completed by growing the tree from `before` to `after` leaves."""
    out = {}
    for level in range(8):
        for pos in range(before >> (8 * level), after >> (8 * level)):
            out[(level, pos)] = ref.subtree_hash(leaves, 8 * level, pos)
    return out


def check_append_step(leaves: Sequence[bytes], edge: RightEdge, size: int,
                      tiles: dict[tuple[int, int], bytearray],
                      new_hashes: Callable[[int, int], Mapping[tuple[int, int], bytes]],
                      check_tiles: Callable[[int], Mapping[tuple[int, int], bytes]],
                      ) -> RightEdge:
    """Append leaves[edge.size:size] and check everything that comes back."""
    before = edge.size
    result = merkle.append_leaves(edge, list(leaves[before:size]))
    root = ref.mth(leaves[:size])
    assert result.root_hash == root
    assert result.edge.size == size
    assert result.edge.root_hash() == root
    assert result.edge.hashes == ref.right_edge(leaves, size)

    stored: dict[tuple[int, int], bytes] = {}
    for level, index, position, h in result.stored_hashes():
        assert 0 <= position < W
        key = (level, index * W + position)
        assert key not in stored, f"{key} stored twice"
        stored[key] = h
    assert stored == new_hashes(before, size)

    apply_writes(tiles, result.tiles)
    assert {k: bytes(v) for k, v in tiles.items()} == check_tiles(size)
    return result.edge


@given(seeds, st.lists(st.integers(0, 700), max_size=8))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_append_in_batches(seed: int, batches: list[int]) -> None:
    leaves = make_leaves(seed, LARGE)
    tiles: dict[tuple[int, int], bytearray] = {}
    edge, size = RightEdge.empty(), 0
    assert edge.size == 0 and edge.hashes == () and edge.root_hash() == ref.EMPTY_ROOT
    for batch in batches + [LARGE]:  # the last batch takes the rest
        size = min(size + batch, LARGE)
        edge = check_append_step(
            leaves, edge, size, tiles,
            new_hashes=lambda a, b: expected_new_hashes(leaves, a, b),
            check_tiles=lambda s: ref.tiles_at(leaves, s))


@given(seeds, st.integers(0, 1000), st.integers(0, 600))
@settings(max_examples=20, deadline=None)
def test_append_from_rebuilt_edge(seed: int, size: int, more: int) -> None:
    # A restarted sequencer rebuilds the edge from stored hashes and carries on.
    leaves = make_leaves(seed, 1600)
    edge = RightEdge(size, ref.right_edge(leaves, size))
    assert edge.root_hash() == ref.mth(leaves[:size])
    result = merkle.append_leaves(edge, list(leaves[size : size + more]))
    assert result.root_hash == ref.mth(leaves[: size + more])
    assert result.edge.hashes == ref.right_edge(leaves, size + more)
    got = {(lv, i * W + p): h for lv, i, p, h in result.stored_hashes()}
    assert got == expected_new_hashes(leaves, size, size + more)


def test_append_70000_reaches_level_2() -> None:
    leaves, _ = big_tree()
    # Sizes after each batch: 1, 256, 30256, 65535, 65536, 65537, 70000.
    batches = [1, 255, 30_000, 35_279, 1, 1, 4_463]
    assert sum(batches) == BIG

    tiles_at = functools.cache(lambda size: ref.tiles_at(leaves, size))

    def new_hashes(before: int, after: int) -> dict[tuple[int, int], bytes]:
        # Read the reference values off the reference tiles (computed level by level).
        ref_tiles = tiles_at(after)
        return {(lv, pos): ref_tiles[(lv, pos // W)][pos % W * H : (pos % W + 1) * H]
                for lv in range(8)
                for pos in range(before >> (8 * lv), after >> (8 * lv))}

    tiles: dict[tuple[int, int], bytearray] = {}
    edge, size = RightEdge.empty(), 0
    for batch in batches:
        size += batch
        edge = check_append_step(leaves, edge, size, tiles, new_hashes=new_hashes,
                                 check_tiles=tiles_at)
    assert tiles[(2, 0)] == ref.mth(leaves[:65536])  # the one level-2 hash
    assert len(tiles[(1, 1)]) == (BIG // W % W) * H  # level 1: 273 hashes, 1 full + 17


def test_append_nothing() -> None:
    leaves = make_leaves(3, 300)
    first = merkle.append_leaves(RightEdge.empty(), list(leaves))
    again = merkle.append_leaves(first.edge, [])
    assert again.edge == first.edge and again.root_hash == first.root_hash
    assert again.tiles == () and list(again.stored_hashes()) == []
    empty = merkle.append_leaves(RightEdge.empty(), [])
    assert empty.root_hash == ref.EMPTY_ROOT and empty.tiles == ()


# ---- proofs from tiles ---------------------------------------------------------------------


def check_plan_tiles(plan: merkle.ProofPlan, size: int) -> None:
    assert plan.size == size
    assert len(set(plan.tiles)) == len(plan.tiles), "a tile is named twice"
    for t in plan.tiles:
        assert t == merkle.tile_for(t.level, t.index, size), "width not as of size"
    assert sum(plan.counts) == len(plan.nodes)
    # The packed fields and their views tell the same plan.
    assert plan.tiles == tuple(TileID(*slot) for slot in plan.tile_slots)
    assert len(plan.node_words) == 16 * len(plan.nodes)
    assert plan.counts == tuple(plan.count_bytes)
    assert f"counts={plan.counts}" in repr(plan)


def check_fold(plan: merkle.ProofPlan, want: list[bytes], leaves: Sequence[bytes],
               wider_size: int) -> None:
    """fold_proof over the reference tiles gives `want`: with the tiles as of
    plan.size, with wider ones (as of wider_size), and never with a tile missing."""
    size = plan.size
    check_plan_tiles(plan, size)
    exact = ref.tiles_at(leaves, size)
    assert merkle.fold_proof(plan, exact) == want
    assert merkle.fold_packed(plan, exact) == b"".join(want)
    wider = ref.tiles_at(leaves, wider_size)
    assert merkle.fold_proof(plan, wider) == want
    # Full tiles where they exist, exact partials elsewhere.
    mixed = {k: wider.get(k, v) if len(wider.get(k, b"")) == W * H else v
             for k, v in exact.items()}
    assert merkle.fold_proof(plan, mixed) == want
    for t in plan.tiles:
        missing = {k: v for k, v in exact.items() if k != (t.level, t.index)}
        with pytest.raises(ValueError):
            merkle.fold_proof(plan, missing)
        short = {**exact, (t.level, t.index): exact[(t.level, t.index)][:-H]}
        with pytest.raises(ValueError, match="has .* hashes, needs"):
            merkle.fold_packed(plan, short)


@given(seeds, st.integers(1, LARGE), st.integers(0, U64 - 1), st.integers(0, LARGE))
@SAMPLED
def test_inclusion_from_tiles(seed: int, size: int, index: int, extra: int) -> None:
    leaves = make_leaves(seed, LARGE)
    index %= size
    plan = merkle.inclusion_plan(index, size)
    check_fold(plan, ref.path(index, leaves[:size]), leaves, min(size + extra, LARGE))


@given(seeds, st.integers(0, LARGE), st.integers(0, U64 - 1), st.integers(0, LARGE))
@SAMPLED
def test_consistency_from_tiles(seed: int, size2: int, size1: int, extra: int) -> None:
    leaves = make_leaves(seed, LARGE)
    size1 %= size2 + 1
    plan = merkle.consistency_plan(size1, size2)
    check_fold(plan, ref.proof(size1, leaves[:size2]), leaves, min(size2 + extra, LARGE))


@given(seeds, st.integers(0, LARGE), st.integers(0, LARGE))
@SAMPLED
def test_edge_from_tiles(seed: int, size: int, extra: int) -> None:
    leaves = make_leaves(seed, LARGE)
    plan = merkle.edge_plan(size)
    check_plan_tiles(plan, size)
    appended = merkle.append_leaves(RightEdge.empty(), list(leaves[:size])).edge
    assert appended == RightEdge(size, ref.right_edge(leaves, size))
    assert merkle.fold_edge(plan, ref.tiles_at(leaves, size)) == appended
    wider = ref.tiles_at(leaves, min(size + extra, LARGE))
    assert merkle.fold_edge(plan, wider) == appended


BOUNDARY_SIZES = [1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537]


def boundary_indexes(size: int) -> list[int]:
    picks = {0, size - 1, size // 2, 255, 256, 511, 65535, 65536, (size * 7919) % size}
    return sorted(i for i in picks if 0 <= i < size)


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_inclusion_from_tiles_at_boundaries(size: int) -> None:
    leaves, all_tiles = big_tree()
    exact = ref.tiles_at(leaves, size)
    for index in boundary_indexes(size):
        plan = merkle.inclusion_plan(index, size)
        check_plan_tiles(plan, size)
        want = ref.path(index, leaves[:size])
        assert merkle.fold_proof(plan, exact) == want, index
        assert merkle.fold_proof(plan, all_tiles) == want, index
        assert merkle.inclusion_proof(leaves, index, size) == want, index


@pytest.mark.parametrize("size2", BOUNDARY_SIZES)
def test_consistency_from_tiles_at_boundaries(size2: int) -> None:
    leaves, all_tiles = big_tree()
    exact = ref.tiles_at(leaves, size2)
    for size1 in sorted({s for s in BOUNDARY_SIZES + [0, 3, 1000] if s <= size2}):
        plan = merkle.consistency_plan(size1, size2)
        check_plan_tiles(plan, size2)
        want = ref.proof(size1, leaves[:size2])
        assert merkle.fold_proof(plan, exact) == want, size1
        assert merkle.fold_proof(plan, all_tiles) == want, size1


@pytest.mark.parametrize("size", [0] + BOUNDARY_SIZES + [BIG])
def test_edge_from_tiles_at_boundaries(size: int) -> None:
    leaves, all_tiles = big_tree()
    plan = merkle.edge_plan(size)
    check_plan_tiles(plan, size)
    want = RightEdge(size, ref.right_edge(leaves, size))
    assert merkle.fold_edge(plan, ref.tiles_at(leaves, size)) == want
    assert merkle.fold_edge(plan, all_tiles) == want


def test_fold_rejects_short_tile() -> None:
    leaves = make_leaves(4, 600)
    plan = merkle.inclusion_plan(590, 600)  # needs tile 0/2 with 88 hashes
    tiles = ref.tiles_at(leaves, 600)
    assert merkle.fold_proof(plan, tiles) == ref.path(590, leaves[:600])
    tiles[(0, 2)] = tiles[(0, 2)][: 80 * H]  # an older, narrower partial
    with pytest.raises(ValueError):
        merkle.fold_proof(plan, tiles)


def test_plans_at_the_largest_sizes() -> None:
    top = U64 - 1
    # PATH(0, D[2^64 - 1]) descends the left edge: 63 levels of 2^63 plus one
    # sibling for the right part; the last leaf's path has one per set bit below.
    assert len(merkle.inclusion_plan(0, top).counts) == 64
    assert len(merkle.inclusion_plan(top - 1, top).counts) == 63
    assert len(merkle.edge_plan(top).nodes) == 64
    for plan in (merkle.inclusion_plan(top // 3, top), merkle.consistency_plan(top // 2, top),
                 merkle.edge_plan(top)):
        check_plan_tiles(plan, top)


# ---- tile names -----------------------------------------------------------------------------


@pytest.mark.parametrize(("tile", "path"), [
    (TileID(0, 3906, 256), "tile/0/x003/906"),
    (TileID(0, 5, 256), "tile/0/005"),
    (TileID(0, 0, 256), "tile/0/000"),
    (TileID(0, 1000000, 256), "tile/0/x001/x000/000"),
    (TileID(0, 3906, 64), "tile/0/x003/906.p/64"),
    (TileID(1, 15, 66), "tile/1/015.p/66"),
    (TileID(2, 0, 15), "tile/2/000.p/15"),
    (TileID(63, 1234567, 1), "tile/63/x001/x234/567.p/1"),
])
def test_tile_path(tile: TileID, path: str) -> None:
    assert tile.path == path
    assert TileID.parse(path) == tile


@given(st.integers(0, 63), st.integers(0, 2**56), st.integers(1, W))
@settings(max_examples=200, deadline=None)
def test_tile_path_round_trip(level: int, index: int, width: int) -> None:
    tile = TileID(level, index, width)
    assert TileID.parse(tile.path) == tile


@pytest.mark.parametrize("path", [
    "tile/0/3906",  # groups must be x-prefixed and three digits
    "tile/0/x003/0906",
    "tile/0/x000/005",  # no leading zero group
    "tile/0/5",
    "tile/00/005",  # level without leading zeros
    "tile/64/000",  # level is 0..63
    "tile/0/005.p/0",  # partial widths are 1..255
    "tile/0/005.p/256",
    "tile/0/005.p/064",
    "tile/entries/005",
    "tile/0/005/",
    "",
])
def test_tile_parse_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        TileID.parse(path)


def test_tile_for_worked_example() -> None:
    # c2sp.org/tlog-tiles, size 1,000,000: level 0 has 3906 full tiles plus
    # tile/0/x003/906.p/64; level 1 has 15 full tiles plus tile/1/015.p/66;
    # level 2 has only tile/2/000.p/15; level 3 has nothing.
    size = 1_000_000
    assert merkle.tile_for(0, 3905, size) == TileID(0, 3905, 256)
    assert merkle.tile_for(0, 3906, size).path == "tile/0/x003/906.p/64"
    assert merkle.tile_for(1, 14, size) == TileID(1, 14, 256)
    assert merkle.tile_for(1, 15, size).path == "tile/1/015.p/66"
    assert merkle.tile_for(2, 0, size).path == "tile/2/000.p/15"
    for level, index in ((0, 3907), (1, 16), (2, 1), (3, 0)):
        with pytest.raises(ValueError):
            merkle.tile_for(level, index, size)


@given(seeds, st.integers(0, LARGE))
@settings(max_examples=20, deadline=None)
def test_tile_for_matches_reference_tiles(seed: int, size: int) -> None:
    tiles = ref.tiles_at(make_leaves(seed, LARGE), size)
    for (level, index), data in tiles.items():
        assert merkle.tile_for(level, index, size) == TileID(level, index, len(data) // H)


# ---- bad arguments ---------------------------------------------------------------------------

_L = list(make_leaves(5, 10))
_SHORT = b"\x00" * 31

BAD_BUILDER_CALLS: list[Any] = [
    pytest.param(lambda: merkle.node_hash(_SHORT, _L[0]), id="node_hash-left-31"),
    pytest.param(lambda: merkle.node_hash(_L[0], _L[0] + b"\x00"), id="node_hash-right-33"),
    pytest.param(lambda: merkle.node_hashes(b"\x00" * 63), id="node_hashes-63"),
    pytest.param(lambda: merkle.root_hash([_L[0], _SHORT]), id="root_hash-31"),
    pytest.param(lambda: merkle.inclusion_proof(_L[:3] + [_SHORT], 0, 4), id="incl-hash-31"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 3, 3), id="incl-index=size"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 5, 3), id="incl-index>size"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 0, 0), id="incl-size-0"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 0, 11), id="incl-size>leaves"),
    pytest.param(lambda: merkle.inclusion_proof(_L, -1, 3), id="incl-index-negative"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 0, -1), id="incl-size-negative"),
    pytest.param(lambda: merkle.inclusion_proof(_L, 0, U64), id="incl-size-2**64"),
    pytest.param(lambda: merkle.inclusion_proof(_L, U64, 3), id="incl-index-2**64"),
    pytest.param(lambda: merkle.consistency_proof(_L[:3] + [_SHORT], 2, 4), id="cons-hash-31"),
    pytest.param(lambda: merkle.consistency_proof(_L, 3, 2), id="cons-size1>size2"),
    pytest.param(lambda: merkle.consistency_proof(_L, 2, 11), id="cons-size2>leaves"),
    pytest.param(lambda: merkle.consistency_proof(_L, -1, 2), id="cons-size1-negative"),
    pytest.param(lambda: merkle.consistency_proof(_L, 0, -2), id="cons-size2-negative"),
    pytest.param(lambda: merkle.consistency_proof(_L, U64, U64), id="cons-2**64"),
    pytest.param(lambda: merkle.inclusion_plan(3, 3), id="plan-index=size"),
    pytest.param(lambda: merkle.inclusion_plan(-1, 3), id="plan-index-negative"),
    pytest.param(lambda: merkle.inclusion_plan(0, U64), id="plan-size-2**64"),
    pytest.param(lambda: merkle.inclusion_plan(U64, U64 + 1), id="plan-index-2**64"),
    pytest.param(lambda: merkle.consistency_plan(3, 2), id="cplan-size1>size2"),
    pytest.param(lambda: merkle.consistency_plan(-1, 2), id="cplan-negative"),
    pytest.param(lambda: merkle.consistency_plan(1, U64), id="cplan-2**64"),
    pytest.param(lambda: merkle.edge_plan(-1), id="edge_plan-negative"),
    pytest.param(lambda: merkle.edge_plan(U64), id="edge_plan-2**64"),
    pytest.param(lambda: merkle.tile_for(0, 0, -1), id="tile_for-size-negative"),
    pytest.param(lambda: merkle.tile_for(0, -1, 10), id="tile_for-index-negative"),
    pytest.param(lambda: merkle.tile_for(0, 0, U64), id="tile_for-size-2**64"),
    pytest.param(lambda: merkle.tile_for(0, 0, 0), id="tile_for-empty-tile"),
    pytest.param(lambda: merkle.append_leaves(RightEdge.empty(), [_L[0], _SHORT]),
                 id="append-hash-31"),
    pytest.param(lambda: merkle.append_leaves(RightEdge.empty(), b"\x00" * 33),
                 id="append-packed-33"),
    pytest.param(lambda: RightEdge(1, ()), id="edge-too-few-hashes"),
    pytest.param(lambda: RightEdge(2, (_L[0], _L[1])), id="edge-too-many-hashes"),
    pytest.param(lambda: RightEdge(1, (_SHORT,)), id="edge-hash-31"),
    pytest.param(lambda: RightEdge(-1, ()), id="edge-size-negative"),
    pytest.param(lambda: RightEdge(U64, ()), id="edge-size-2**64"),
]


@pytest.mark.parametrize("call", BAD_BUILDER_CALLS)
def test_bad_arguments_raise_value_error(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError) as excinfo:
        call()
    assert not isinstance(excinfo.value, ProofError), "bad arguments are not proof failures"


BAD_VERIFY_CALLS: list[Any] = [
    pytest.param(lambda: merkle.verify_inclusion(_SHORT, 0, 1, [], _SHORT),
                 id="incl-leaf-31"),
    pytest.param(lambda: merkle.verify_inclusion(_L[0], 0, 2, [_SHORT], _L[0]),
                 id="incl-proof-31"),
    pytest.param(lambda: merkle.verify_inclusion(_L[0], 0, 1, [], _L[0] + b"\x00"),
                 id="incl-root-33"),
    pytest.param(lambda: merkle.verify_consistency(1, 2, [_SHORT], _L[0], _L[1]),
                 id="cons-proof-31"),
    pytest.param(lambda: merkle.verify_consistency(1, 1, [], _SHORT, _SHORT),
                 id="cons-roots-31"),
]


@pytest.mark.parametrize("call", BAD_VERIFY_CALLS)
def test_verify_rejects_wrong_hash_length(call: Callable[[], object]) -> None:
    with pytest.raises(ProofError, match="32"):
        call()


@pytest.mark.parametrize("call", [
    pytest.param(lambda: merkle.verify_inclusion(_L[0], -1, 1, [], _L[0]), id="incl-index-neg"),
    pytest.param(lambda: merkle.verify_inclusion(_L[0], 0, U64, [], _L[0]), id="incl-size-2**64"),
    pytest.param(lambda: merkle.verify_inclusion(_L[0], U64, U64, [], _L[0]),
                 id="incl-index-2**64"),
    pytest.param(lambda: merkle.verify_consistency(-1, 1, [], _L[0], _L[0]), id="cons-neg"),
    pytest.param(lambda: merkle.verify_consistency(1, U64, [], _L[0], _L[0]),
                 id="cons-size2-2**64"),
])
def test_verify_bad_ints_raise_value_error(call: Callable[[], object]) -> None:
    # Out-of-range ints never verify; a ValueError (ProofError or not) and no crash.
    with pytest.raises(ValueError):
        call()


def test_packed_proof_of_partial_hashes_is_refused() -> None:
    leaves = make_leaves(3, 40)
    packed = b"".join(ref.path(5, leaves))
    merkle.verify_inclusion_packed(leaves[5], 5, 40, packed, ref.mth(leaves))
    with pytest.raises(ProofError, match="not a multiple of 32"):
        merkle.verify_inclusion_packed(leaves[5], 5, 40, packed[:-1], ref.mth(leaves))
