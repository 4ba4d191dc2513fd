"""Warming the proof cache: a starting server reads its tree's tiles in the background.

Every inclusion proof folds hashes out of the tiles on its path; a tile the cache
lacks costs a read of its 8 KiB row (TOASTed: several index and heap pages) and
its expansion, per request.  A fresh process meets that on nearly every read of a
large log until random traffic has touched each level-0 tile: for 10M entries,
39,000 of them, minutes of slow reads after every restart.  Instead the server
reads them at start, many tiles a statement: the upper levels first (every proof
uses them), then level 0 from the newest tile back (recent entries are read
most), and stops when the cache is nearly full, so warming never evicts.  It
yields to requests between statements and is cancelled when the server stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from rekor_py import merkle
from rekor_py.log.proofs import TileCache
from rekor_py.storage import log_store

__all__ = ["start_warming", "warm_tile_cache"]

log = logging.getLogger(__name__)

# Tiles a statement: ~1 MiB of rows, a few ms of the database's time.
_CHUNK = 128
# An expanded full tile's weight in the cache (its 511 subtree hashes, and the
# entry's overhead); warming stops while one more chunk still fits.
_EXPANDED_TILE = 2 * merkle.TILE_WIDTH * merkle.HASH_SIZE + 256
# Leave this share of the cache to what requests bring in (other trees' tiles,
# the right edge as it grows).
_SPARE = 0.1


async def warm_tile_cache(pool: Any, cache: TileCache, tree_id: int, size: int) -> int:
    """Read the full tiles of tree `tree_id` at `size` into `cache`, top level first,
    level 0 newest first, while they fit; the number of tiles added."""
    started = time.monotonic()
    spare = int(_SPARE * (cache.room))
    added = 0
    for level, full in _full_tiles(size):
        end = full
        while end > 0:
            if cache.room - spare < _CHUNK * _EXPANDED_TILE:
                log.info("tile cache warm: %d tiles of tree %d in %.1f s, cache full",
                         added, tree_id, time.monotonic() - started)
                return added
            start = max(0, end - _CHUNK)
            async with pool.acquire() as conn:
                found = await log_store.read_tile_range(conn, tree_id, level, start, end)
            cache.add(found)
            added += len(found)
            end = start
            await asyncio.sleep(0)  # requests first
    log.info("tile cache warm: %d tiles of tree %d in %.1f s", added, tree_id,
             time.monotonic() - started)
    return added


def start_warming(app: web.Application, warm: Callable[[], Coroutine[Any, Any, int]]) -> None:
    """Run `warm` in the background once `app` has started; cancel it at cleanup.
    A failure is logged: the cache then fills from requests, as it would anyway."""
    tasks: list[asyncio.Task[int]] = []

    async def start(_app: web.Application) -> None:
        task = asyncio.get_running_loop().create_task(warm())
        task.add_done_callback(_report)
        tasks.append(task)

    async def stop(_app: web.Application) -> None:
        for task in tasks:
            task.cancel()
        # Its end, whatever it was (a failure was logged when it happened).
        await asyncio.gather(*tasks, return_exceptions=True)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _report(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("warming the tile cache failed: %r", task.exception())


def _full_tiles(size: int) -> list[tuple[int, int]]:
    """(level, number of full tiles) for each level of a tree of `size`, top first."""
    levels = []
    level, width = 0, size // merkle.TILE_WIDTH
    while width > 0:
        levels.append((level, width))
        level, width = level + 1, width // merkle.TILE_WIDTH
    return levels[::-1]
