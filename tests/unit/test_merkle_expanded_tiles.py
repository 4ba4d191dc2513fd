"""Expanded tiles: the cached form of a tile that proofs read nodes from.

An expansion must hold exactly the reference's subtree hashes, and folding a plan
over expansions must give the same proofs as folding over the stored tiles.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py import merkle
from rekor_py.merkle import ExpandedTile
from tests.reference import rfc6962

LEAVES = [rfc6962.leaf_hash(i.to_bytes(4, "big")) for i in range(1100)]


def _tiles(size: int) -> dict[tuple[int, int], bytes]:
    return rfc6962.tiles_at(LEAVES, size)


@pytest.mark.parametrize("width", [1, 2, 3, 7, 64, 65, 255, 256])
def test_expansion_holds_every_subtree_hash(width: int) -> None:
    tile = b"".join(LEAVES[:width])
    exp = ExpandedTile.from_tile(tile)
    assert exp.width == width and exp.tile == tile
    at = 0
    for r in range(merkle.TILE_HEIGHT + 1):
        for k in range(width >> r):
            want = rfc6962.subtree_hash(LEAVES, r, k)
            assert exp.data[(at + k) * 32 : (at + k + 1) * 32] == want, (r, k)
        at += width >> r
    assert len(exp.data) == at * 32


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 1100), data=st.data())
def test_proofs_from_expanded_tiles_equal_proofs_from_tiles(size: int, data: st.DataObject) -> None:
    tiles = _tiles(size)
    expanded = {k: ExpandedTile.from_tile(v) for k, v in tiles.items()}
    index = data.draw(st.integers(0, size - 1))
    plan = merkle.inclusion_plan(index, size)
    assert merkle.fold_proof(plan, expanded) == merkle.fold_proof(plan, tiles)
    assert merkle.fold_proof(plan, expanded) == rfc6962.path(index, LEAVES[:size])
    size1 = data.draw(st.integers(1, size))
    plan = merkle.consistency_plan(size1, size)
    assert merkle.fold_proof(plan, expanded) == rfc6962.proof(size1, LEAVES[:size])


def test_a_later_wider_expansion_serves_an_older_size() -> None:
    # Tiles only grow: the expansion of today's tile answers for yesterday's size.
    later = {k: ExpandedTile.from_tile(v) for k, v in _tiles(1100).items()}
    for size in (300, 513, 767):
        plan = merkle.inclusion_plan(size - 1, size)
        assert merkle.fold_proof(plan, later) == rfc6962.path(size - 1, LEAVES[:size])
        assert merkle.fold_edge(merkle.edge_plan(size), later).root_hash() == \
            rfc6962.mth(LEAVES[:size])


def test_an_expansion_narrower_than_the_plan_is_refused() -> None:
    tiles = {k: ExpandedTile.from_tile(v) for k, v in _tiles(300).items()}
    with pytest.raises(ValueError, match="needs"):
        merkle.fold_proof(merkle.inclusion_plan(310, 320), tiles)


@pytest.mark.parametrize("nbytes", [0, 31, 33, 257 * 32])
def test_bad_tile_bytes_are_refused(nbytes: int) -> None:
    with pytest.raises(ValueError, match="a tile is 1 to 256 hashes"):
        ExpandedTile.from_tile(bytes(nbytes))
