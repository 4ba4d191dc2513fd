"""start_warming (log/tile_warmup.py): the warm-up runs once the app starts, is
cancelled when it stops, and a failure is logged, not raised (the cache then fills
from requests).  What it reads is tested against PostgreSQL in
tests/integration/test_read_paths.py."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from rekor_py.log.tile_warmup import _full_tiles, start_warming


async def test_warming_starts_with_the_app_and_stops_with_it() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def warm() -> int:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            finished.set()
        return 0

    app = web.Application()
    start_warming(app, warm)
    runner = web.AppRunner(app)
    await runner.setup()
    await asyncio.wait_for(started.wait(), 5)
    await runner.cleanup()
    assert finished.is_set()


async def test_a_failed_warm_up_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def warm() -> int:
        raise ConnectionRefusedError("no database")

    app = web.Application()
    start_warming(app, warm)
    runner = web.AppRunner(app)
    with caplog.at_level(logging.WARNING, logger="rekor_py.log.tile_warmup"):
        await runner.setup()
        for _ in range(50):
            if caplog.records:
                break
            await asyncio.sleep(0.01)
        await runner.cleanup()
    assert "warming the tile cache failed" in caplog.text and "no database" in caplog.text


@pytest.mark.parametrize(("size", "want"), [
    (0, []), (255, []), (256, [(0, 1)]), (65_535, [(0, 255)]), (65_536, [(1, 1), (0, 256)]),
    (10_000_000, [(1, 152), (0, 39_062)]), (1 << 40, [(4, 1), (3, 256), (2, 65_536),
                                               (1, 1 << 24), (0, 1 << 32)]),
])
def test_full_tiles_per_level_top_first(size: int, want: list[tuple[int, int]]) -> None:
    assert _full_tiles(size) == want
