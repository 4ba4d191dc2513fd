"""HTTP reads for the monitor: checkpoint, verifier keys, log key, tiles, entry bundles.

One aiohttp session on ONE connection (a monitor should not hammer a log), with
size caps on every body.  Bodies that arrive gzip'd are decompressed by aiohttp.
Network failures and unexpected statuses raise FetchError; a tile or bundle of
the wrong length is the check's business (check.py), not this module's.
"""

from __future__ import annotations

import struct
from types import TracebackType

import aiohttp

from rekor_py import merkle
from rekor_py.log.checkpoint import MAX_CHECKPOINT_BYTES
from rekor_py.log.tile_path import TileID, entry_bundle_path

__all__ = ["FetchError", "TileFetcher", "parse_entry_bundle"]

_MAX_BUNDLE_BYTES = merkle.TILE_WIDTH * (2 + 0xFFFF)
_MAX_KEY_BYTES = 64 * 1024


class FetchError(Exception):
    """A resource could not be fetched (network, status, size cap)."""


class NotFound(FetchError):
    """The server answered 404."""


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """Split `uint16 length ‖ bytes` records; raises ValueError on a truncated record."""
    out: list[bytes] = []
    pos, end = 0, len(data)
    unpack = struct.unpack_from
    while pos < end:
        if pos + 2 > end:
            raise ValueError("entry bundle ends inside a length")
        (n,) = unpack(">H", data, pos)
        pos += 2
        if pos + n > end:
            raise ValueError("entry bundle ends inside an entry")
        out.append(data[pos:pos + n])
        pos += n
    return out


class TileFetcher:
    """Reads from a log: `url` is the server (Rekor API), `tiles_url` the tile prefix."""

    def __init__(self, url: str, tiles_url: str | None = None, *, timeout_s: float = 30) -> None:
        self.url = url.rstrip("/")
        self.tiles_url = (tiles_url or url).rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TileFetcher:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=self._timeout,
            headers={"Accept-Encoding": "gzip", "User-Agent": "rekor-py-monitor"})
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, url: str, cap: int) -> bytes:
        assert self._session is not None, "use TileFetcher in `async with`"
        try:
            async with self._session.get(url) as r:
                if r.status == 404:
                    raise NotFound(f"GET {url}: 404")
                if r.status != 200:
                    raise FetchError(f"GET {url}: HTTP {r.status}")
                body = bytearray()
                async for chunk in r.content.iter_chunked(1 << 16):
                    body += chunk
                    if len(body) > cap:
                        raise FetchError(f"GET {url}: body larger than {cap} bytes")
                return bytes(body)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise FetchError(f"GET {url}: {e or type(e).__name__}") from e

    async def checkpoint(self) -> str:
        raw = await self._get(f"{self.tiles_url}/checkpoint", MAX_CHECKPOINT_BYTES)
        try:
            return raw.decode()
        except UnicodeDecodeError as e:
            raise FetchError("the checkpoint is not UTF-8") from e

    async def vkeys(self) -> list[str]:
        raw = await self._get(f"{self.tiles_url}/checkpoint.vkeys", _MAX_KEY_BYTES)
        return [line for line in raw.decode(errors="replace").splitlines() if line.strip()]

    async def get_api(self, path: str, cap: int) -> bytes:
        """GET `path` (starting with /api/) of the Rekor API, at most `cap` bytes."""
        return await self._get(f"{self.url}{path}", cap)

    async def log_public_key(self) -> bytes:
        """The log's PEM key from the Rekor API (GET /api/v1/log/publicKey)."""
        return await self._get(f"{self.url}/api/v1/log/publicKey", _MAX_KEY_BYTES)

    async def tile(self, tile: TileID) -> bytes:
        """The tile's hashes; a missing partial falls back to the full tile (tlog-tiles
        lets a log delete partials once the full tile exists).  The caller checks the
        length: at least tile.width hashes."""
        try:
            return await self._get(f"{self.tiles_url}/{tile.path}", merkle.TILE_WIDTH * 32)
        except NotFound:
            if tile.is_full:
                raise
            full = TileID(tile.level, tile.index, merkle.TILE_WIDTH)
            return await self._get(f"{self.tiles_url}/{full.path}", merkle.TILE_WIDTH * 32)

    async def entry_bundle(self, tile: TileID) -> bytes:
        """The raw bundle behind level-0 tile `tile` (same fallback as `tile`)."""
        try:
            return await self._get(f"{self.tiles_url}/{entry_bundle_path(tile)}",
                                   _MAX_BUNDLE_BYTES)
        except NotFound:
            if tile.is_full:
                raise
            full = TileID(0, tile.index, merkle.TILE_WIDTH)
            return await self._get(f"{self.tiles_url}/{entry_bundle_path(full)}",
                                   _MAX_BUNDLE_BYTES)
