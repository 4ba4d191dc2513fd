"""One Patroni cluster for the HA tests of a session (starting one costs ~10 s)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from .cluster import Cluster


@pytest.fixture(scope="session")
async def cluster() -> AsyncIterator[Cluster]:
    ha = Cluster.create(synchronous=True)
    try:
        await asyncio.to_thread(ha.start)
        yield ha
    finally:
        await asyncio.to_thread(ha.stop)
