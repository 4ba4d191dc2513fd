"""The C2SP tile API (c2sp.org/tlog-tiles): checkpoint, hash tiles, entry bundles.

Every URL lives under Settings.tile_prefix ("" = the server root):

- `<prefix>/checkpoint`: the C2SP checkpoint of the committed head (log/c2sp.py),
  `text/plain; charset=utf-8`, cacheable for 2 s.
- `<prefix>/checkpoint.vkeys`: the verifier keys of its signature lines, one a line.
- `<prefix>/tile/<L>/<N>[.p/<W>]`: the first W (or 256) hashes of a stored tile,
  `application/octet-stream`.
- `<prefix>/tile/entries/<N>[.p/<W>]`: the canonical bodies of leaves
  256·N .. 256·N+W-1, each as a big-endian uint16 length and the bytes; gzip'd
  (`Content-Encoding: gzip`) when the request accepts gzip.

Status codes: a path that TileID.parse rejects (non-canonical spelling, level
> 63, width 0 or > 256) is 400, a client fault; a well-formed tile the committed
tree does not hold (beyond the tree, or a partial wider than what exists) is 404.
A partial narrower than what exists is served (its hashes never change), so a
client may fetch any partial implied by a checkpoint it verified.  Full tiles
and bundles are immutable (`max-age=31536000, immutable`) and cached in memory;
partials get `max-age=2`.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Sequence

from aiohttp import web

from rekor_py.api.keys import NOTARY, PUBLISHER, SERVICE
from rekor_py.errors import InvalidRequest, StorageError
from rekor_py.log.tile_path import TileID, parse_tile_path
from rekor_py.lru import ByteLRU
from rekor_py.memory import cache_bytes
from rekor_py.witness.publisher import cosigned_note

__all__ = [
    "TILE_CACHE",
    "ImmutableCache",
    "encode_entry_bundle",
    "get_checkpoint",
    "get_tile",
    "get_vkeys",
]

_IMMUTABLE = "public, max-age=31536000, immutable"
_SHORT = "public, max-age=2"
_MAX_BUNDLE_ENTRY = 0xFFFF
# Bundles above this are compressed in a thread (zlib releases the GIL).
_THREAD_COMPRESS_BYTES = 64 * 1024
_GZIP_LEVEL = 1


class ImmutableCache:
    """LRU of response bodies that never change (full tiles and full bundles), bounded by bytes.
    Keys name the tree: after a rotation the same path is another tree's tile.

    A full entry bundle can weigh megabytes, so a count bound did not bound memory."""

    def __init__(self, max_bytes: int | None = None) -> None:
        # Default: a share of the machine's memory (memory.cache_bytes), enough on a
        # 24 GiB machine for every level-0 tile of a 10M-entry log (312 MiB).
        self._items: ByteLRU[tuple[str, int, int, int], bytes] = ByteLRU(
            cache_bytes() if max_bytes is None else max_bytes, lambda _, v: len(v))

    def get(self, key: tuple[str, int, int, int]) -> bytes | None:
        return self._items.get(key)

    def put(self, key: tuple[str, int, int, int], value: bytes) -> None:
        self._items.put(key, value)


TILE_CACHE = web.AppKey("tile_cache", ImmutableCache)


def encode_entry_bundle(bodies: Sequence[bytes]) -> bytes:
    """uint16 big-endian length ‖ body, for each body; raises StorageError for a
    body of 64 KiB or more (the format cannot carry it)."""
    parts = []
    for body in bodies:
        if len(body) > _MAX_BUNDLE_ENTRY:
            raise StorageError(f"an entry of {len(body)} bytes does not fit a tile bundle")
        parts.append(struct.pack(">H", len(body)))
        parts.append(body)
    return b"".join(parts)


def _accepts_gzip(request: web.Request) -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _gzip(data: bytes) -> bytes:
    c = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    return c.compress(data) + c.flush()


def _parse_tile_path(path: str) -> tuple[bool, TileID]:
    """(is an entry bundle, tile) for "tile/..." paths; raises InvalidRequest (400)."""
    try:
        return parse_tile_path(path)
    except ValueError:
        raise InvalidRequest(f"not a canonical tile path: {path[:80]!r}") from None


def _octets(body: bytes, tile: TileID, **headers: str) -> web.Response:
    cache = _IMMUTABLE if tile.is_full else _SHORT
    return web.Response(body=body, content_type="application/octet-stream",
                        headers={"Cache-Control": cache, **headers})


async def get_checkpoint(request: web.Request) -> web.Response:
    head = await request.app[SERVICE].head()
    notary = request.app[NOTARY].for_tree(head)
    text = await notary.checkpoint_async(head.size, head.root_hash)
    publisher = request.app.get(PUBLISHER)
    if publisher is not None:
        # With witnesses, the latest head published after its witnessing round, with
        # its cosignatures (fail-closed: only heads that got the quorum).
        published = await publisher.published(head.tree_id)
        if published is not None:
            text = cosigned_note(await notary.checkpoint_async(published.size, published.root_hash),
                                 published)
        elif publisher.fail_closed:
            raise web.HTTPNotFound(text="no checkpoint has its witness quorum yet\n")
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": _SHORT})


async def get_vkeys(request: web.Request) -> web.Response:
    head = await request.app[SERVICE].head()
    return web.Response(text=request.app[NOTARY].for_tree(head).vkeys(),
                        content_type="text/plain",
                        charset="utf-8", headers={"Cache-Control": "public, max-age=300"})


async def get_tile(request: web.Request) -> web.Response:
    bundle, tile = _parse_tile_path("tile/" + request.match_info["path"])
    if bundle:
        return await _entry_bundle(request, tile)
    cache, service = request.app[TILE_CACHE], request.app[SERVICE]
    data = None
    if tile.is_full:
        # A full tile never changes: from this cache, or from the proofs' (which the
        # server warmed at start), else from storage with the head.
        key = (tile.level, tile.index)
        data = (cache.get(("tile", service.tree_id, *key))
                or service.tiles_of(service.tree_id).full_tile(key))
    if data is None:
        tree_id, data = await service.read_tile(tile)
        if data is None:
            raise web.HTTPNotFound
        if tile.is_full:
            cache.put(("tile", tree_id, tile.level, tile.index), data)
    return _octets(data, tile)


async def _entry_bundle(request: web.Request, tile: TileID) -> web.Response:
    gzip = _accepts_gzip(request)
    cache, service = request.app[TILE_CACHE], request.app[SERVICE]
    kind = "bundle-gz" if gzip else "bundle"
    data = cache.get((kind, service.tree_id, 0, tile.index)) if tile.is_full else None
    if data is None:
        tree_id, bodies = await service.read_entry_bundle(tile)
        if bodies is None:
            raise web.HTTPNotFound
        data = encode_entry_bundle(bodies)
        if gzip:
            data = (await asyncio.to_thread(_gzip, data)
                    if len(data) > _THREAD_COMPRESS_BYTES else _gzip(data))
        if tile.is_full:
            cache.put((kind, tree_id, 0, tile.index), data)
    headers = {"Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return _octets(data, tile, **headers)
