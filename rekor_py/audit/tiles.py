"""Recompute a tree's C2SP tiles and root from its leaf hashes, and compare them.

This module owns the comparison of recomputed tiles with stored ones.  The
recomputation is the Merkle engine's (merkle.append_leaves reports every hash a
tile holds as the leaves arrive); reading stored tiles is the caller's, through
the `read` callable, so the module needs no database.

Leaf hashes arrive in index order, in batches.  Each TileWrite is added to the
tile it belongs to; a tile is compared once it is full (256 hashes), the
partial right-edge tiles of every level at `finish()`.  At most one partial
tile per level plus one batch's full tiles are held, so memory stays small
however long the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from rekor_py import merkle
from rekor_py.audit.report import Discrepancy, DiscrepancyFound

__all__ = ["TileChecker", "expected_tile_counts"]

_TILE_BYTES = merkle.TILE_WIDTH * merkle.HASH_SIZE

ReadTiles = Callable[[Sequence[tuple[int, int]]], Awaitable[dict[tuple[int, int], bytes]]]


def expected_tile_counts(size: int) -> list[int]:
    """How many tiles each level has at tree size `size` (level 0 first; none past the last).

    Level L holds one hash per perfect subtree of height 8L: size >> 8L of them,
    256 to a tile, the last tile partial.
    """
    counts = []
    level = 0
    while (hashes := size >> (merkle.TILE_HEIGHT * level)) > 0:
        counts.append(-(-hashes // merkle.TILE_WIDTH))
        level += 1
    return counts


class TileChecker:
    """Appends leaf hashes to an empty tree and checks every tile against storage."""

    def __init__(self, tree_id: int, read: ReadTiles) -> None:
        self.tree_id = tree_id
        self.tiles_checked = 0
        self._read = read
        self._edge = merkle.RightEdge.empty()
        self._open: dict[tuple[int, int], bytearray] = {}

    @property
    def size(self) -> int:
        return self._edge.size

    async def append(self, leaf_hashes: bytes) -> None:
        """Append packed leaf hashes (index order); compare the tiles they complete.

        Raises DiscrepancyFound at the first tile that differs from storage.
        """
        result = merkle.append_leaves(self._edge, leaf_hashes)
        self._edge = result.edge
        full = []
        for w in result.tiles:
            key = (w.level, w.index)
            buf = self._open.setdefault(key, bytearray())
            # The engine reports each tile's hashes in order, so a write always
            # starts where the previous one for that tile ended.
            assert len(buf) == w.start * merkle.HASH_SIZE, (key, len(buf), w.start)
            buf += w.hashes
            if len(buf) == _TILE_BYTES:
                full.append(key)
        await self._compare(sorted(full))

    async def finish(self) -> bytes:
        """Compare the partial right-edge tiles; return the recomputed root hash."""
        await self._compare(sorted(self._open))
        return self._edge.root_hash()

    async def _compare(self, keys: list[tuple[int, int]]) -> None:
        if not keys:
            return
        stored = await self._read(keys)
        for key in keys:
            want = bytes(self._open.pop(key))
            got = stored.get(key)
            if got is None:
                raise DiscrepancyFound(self._missing(key, want))
            if got != want:
                raise DiscrepancyFound(self._differs(key, want, got))
            self.tiles_checked += 1

    def _missing(self, key: tuple[int, int], want: bytes) -> Discrepancy:
        level, index = key
        width = len(want) // merkle.HASH_SIZE
        return Discrepancy(
            "missing_tile", self.tree_id, f"tile {level}/{index}",
            f"tree {self.tree_id}: tile {level}/{index} is missing: at size {self.size} it "
            f"should hold {width} hashes",
            expected=f"{width} hashes", found="no row",
        )

    def _differs(self, key: tuple[int, int], want: bytes, got: bytes) -> Discrepancy:
        level, index = key
        where = f"tile {level}/{index}"
        n = merkle.HASH_SIZE
        for pos in range(min(len(want), len(got)) // n):
            a, b = want[pos * n:(pos + 1) * n], got[pos * n:(pos + 1) * n]
            if a != b:
                return Discrepancy(
                    "tile", self.tree_id, f"{where} hash {pos}",
                    f"tree {self.tree_id}: tile {level}/{index}, hash {pos} ({_covers(level, index, pos)}) "
                    f"differs from the hash recomputed from the entries",
                    expected=a.hex(), found=b.hex(),
                )
        return Discrepancy(
            "tile_width", self.tree_id, where,
            f"tree {self.tree_id}: tile {level}/{index} holds {len(got) / n:g} hashes, "
            f"the tree of size {self.size} implies {len(want) // n}",
            expected=f"{len(want) // n} hashes", found=f"{len(got)} bytes",
        )


def _covers(level: int, index: int, pos: int) -> str:
    """The leaves a stored hash covers, e.g. "leaves [256, 512)"."""
    span = 1 << (merkle.TILE_HEIGHT * level)
    first = (index * merkle.TILE_WIDTH + pos) * span
    return f"leaf {first}" if span == 1 else f"leaves [{first}, {first + span})"
