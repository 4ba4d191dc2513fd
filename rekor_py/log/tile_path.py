"""C2SP tlog-tiles paths: which tile a URL names, and the URL of a tile.

    tile/<L>/<N>[.p/<W>]          hashes of tile N at level L (W < 256: partial)
    tile/entries/<N>[.p/<W>]      the entry bundle behind level-0 tile N

N is written in three-digit groups, every group but the last prefixed with "x"
(1234067 -> x001/x234/067).  Only the canonical spelling parses: a path has one
name per tile, so caches and mirrors never hold two copies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TILE_WIDTH", "TileID", "entry_bundle_path", "parse_tile_path"]

TILE_WIDTH = 256
"""Hashes in a full tile (2**8: tiles are 8 levels of the tree high)."""

_TILE_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?")


def _encode_index(index: int) -> str:
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([f"x{g}" for g in groups[:-1]] + groups[-1:])


@dataclass(frozen=True, order=True, slots=True)
class TileID:
    """A C2SP tlog-tiles tile: `width` hashes (256 = full) of tile `index` at `level`."""

    level: int
    index: int
    width: int

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]`, N in x-prefixed three-digit groups."""
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{self.level}/{_encode_index(self.index)}{suffix}"

    @classmethod
    def parse(cls, path: str) -> TileID:
        """Inverse of `path`; accepts only the canonical spelling."""
        m = _TILE_PATH.fullmatch(path)
        if not m:
            raise ValueError(f"not a tile path: {path[:80]!r}")
        level, width = int(m[1]), int(m[3]) if m[3] else TILE_WIDTH
        tile = cls(level, int(m[2].replace("x", "").replace("/", "")), width)
        if level > 63 or not 1 <= width <= TILE_WIDTH or tile.path != path:
            raise ValueError(f"not a canonical tile path: {path[:80]!r}")
        return tile


def entry_bundle_path(tile: TileID) -> str:
    """`tile/entries/<N>[.p/<W>]`: the bundle of the entries level-0 `tile` hashes."""
    if tile.level != 0:
        raise ValueError(f"only level-0 tiles have entry bundles, not {tile.path}")
    return tile.path.replace("tile/0/", "tile/entries/", 1)


def parse_tile_path(path: str) -> tuple[bool, TileID]:
    """(names an entry bundle, the level-0 or hash tile) of a canonical "tile/..." path.

    Raises ValueError for anything else."""
    bundle = path.startswith("tile/entries/")
    hash_path = "tile/0/" + path[len("tile/entries/"):] if bundle else path
    return bundle, TileID.parse(hash_path)
