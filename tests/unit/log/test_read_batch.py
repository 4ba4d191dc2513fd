"""ReadBatcher (log/read_batch.py) on its own: how reads are grouped into statements,
with a statement that answers from a dict (the database side is tested in
tests/integration/test_read_paths.py)."""

from __future__ import annotations

import asyncio

import pytest

from rekor_py.log.read_batch import ReadBatcher

Statement = tuple[int, list[int], list[tuple[int, int]]]


class Store:
    """Answers a batch from dicts, after a loop turn or a gate, and records it."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.gate: asyncio.Event | None = None

    async def run(self, tree_id: int, leaves: list[int], tiles: list[tuple[int, int]]
                  ) -> tuple[str, dict[int, str], dict[tuple[int, int], bytes]]:
        self.statements.append((tree_id, leaves, tiles))
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        return (f"trees@{len(self.statements)}",
                {leaf: f"{tree_id}/{leaf}" for leaf in leaves if leaf < 1000},
                {key: bytes([key[0], key[1] % 256]) for key in tiles})


async def test_reads_in_one_turn_share_one_statement_per_tree() -> None:
    store = Store()
    batcher: ReadBatcher[str, str] = ReadBatcher(store.run)
    got = await asyncio.gather(batcher.read(1, 5, [(0, 0)]), batcher.read(1, 7, []),
                               batcher.read(2, 5, [(1, 0)]), batcher.read(1, None, [(0, 3)]),
                               batcher.read(1, 5000, []))
    assert sorted(store.statements) == [(1, [5, 7, 5000], [(0, 0), (0, 3)]), (2, [5], [(1, 0)])]
    assert [(r.entry, r.tiles) for r in got] == [
        ("1/5", {(0, 0): b"\x00\x00"}), ("1/7", {}), ("2/5", {(1, 0): b"\x01\x00"}),
        (None, {(0, 3): b"\x00\x03"}), (None, {})]


async def test_reads_wait_for_a_slot_and_grow_the_next_batch() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batcher: ReadBatcher[str, str] = ReadBatcher(store.run, max_in_flight=1, max_batch=3)
    first = asyncio.ensure_future(batcher.read(1, 0, []))
    await asyncio.sleep(0.01)  # the first statement is out, held at the gate
    later = [asyncio.ensure_future(batcher.read(1, leaf, [])) for leaf in range(1, 8)]
    await asyncio.sleep(0.01)
    assert len(store.statements) == 1  # the slot is taken: the others wait, together
    store.gate.set()
    results = await asyncio.gather(first, *later)
    assert [r.entry for r in results] == [f"1/{leaf}" for leaf in range(8)]
    assert [leaves for _, leaves, _ in store.statements] == [[0], [1, 2, 3], [4, 5, 6], [7]]


async def test_a_cancelled_read_leaves_the_batch_to_the_others() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batcher: ReadBatcher[str, str] = ReadBatcher(store.run)
    gone = asyncio.ensure_future(batcher.read(1, 1, []))
    kept = asyncio.ensure_future(batcher.read(1, 2, []))
    await asyncio.sleep(0.01)
    gone.cancel()  # its client went away while the statement was out
    store.gate.set()
    assert (await kept).entry == "1/2"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert (await batcher.read(1, 3, [])).entry == "1/3"
