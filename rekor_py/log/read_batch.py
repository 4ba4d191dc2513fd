"""Reads coalesced: the reads of one tree that arrive together share one statement.

Under load most of a read's cost is not the index lookup but the statement around
it: a round trip, the database's per-statement work, and the wake-ups on both
sides.  Reads by index, consistency proofs and tiles each want a tree head, maybe
an entry and maybe some tiles; those that ask while a loop turn runs go out as one
statement (log_store.read_trees_with, one snapshot for all of them), and while at
most `max_in_flight` statements are out the next ones wait and grow a batch,
as a group commit does for writes.  An idle server sends each read at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["BatchRead", "ReadBatcher"]

TileKey = tuple[int, int]
_S = TypeVar("_S")  # what the batch's statement says of the trees (Shards)
_E = TypeVar("_E")  # an entry row


@dataclass(frozen=True)
class BatchRead(Generic[_S, _E]):
    """One read's share of a batch: the trees, its entry (None if absent or not
    asked for) and those of its tiles that exist."""

    trees: _S
    entry: _E | None
    tiles: dict[TileKey, bytes]


# run(tree_id, leaf indexes, tile keys) -> (trees, entries by leaf index, tiles by key)
Runner = Callable[[int, list[int], list[TileKey]],
                  Awaitable[tuple[_S, dict[int, _E], dict[TileKey, bytes]]]]


@dataclass
class _Want:
    leaf: int | None
    tiles: Sequence[TileKey]
    done: asyncio.Future[BatchRead[Any, Any]]


@dataclass
class _Batch:
    wants: list[_Want] = field(default_factory=list)
    leaves: set[int] = field(default_factory=set)
    tiles: set[TileKey] = field(default_factory=set)


class ReadBatcher(Generic[_S, _E]):
    """Coalesces reads per tree into statements made by `run`."""

    def __init__(self, run: Runner[_S, _E], *, max_in_flight: int = 2,
                 max_batch: int = 256) -> None:
        self._run = run
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch  # bounds one statement's arrays and its answer
        self._pending: dict[int, _Batch] = {}
        self._in_flight = 0
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, tree_id: int, leaf: int | None, tiles: Sequence[TileKey]
                   ) -> BatchRead[_S, _E]:
        """The trees as of one snapshot, with tree `tree_id`'s entry at `leaf` and
        its `tiles` as of the same snapshot.  Raises what the statement raised."""
        loop = asyncio.get_running_loop()
        want = _Want(leaf, tiles, loop.create_future())
        batch = self._pending.setdefault(tree_id, _Batch())
        batch.wants.append(want)
        if leaf is not None:
            batch.leaves.add(leaf)
        batch.tiles.update(tiles)
        if not self._flush_scheduled:
            # The next loop turn: the reads whose requests this turn parses join in.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        result: BatchRead[_S, _E] = await want.done
        return result

    def _flush(self) -> None:
        self._flush_scheduled = False
        while self._pending and self._in_flight < self._max_in_flight:
            tree_id = next(iter(self._pending))
            batch = self._pending[tree_id]
            if len(batch.wants) > self._max_batch:
                batch, rest = _split(batch, self._max_batch)
                self._pending[tree_id] = rest
            else:
                del self._pending[tree_id]
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._send(tree_id, batch))
            self._tasks.add(task)  # held until done: the loop keeps weak references
            task.add_done_callback(self._tasks.discard)

    async def _send(self, tree_id: int, batch: _Batch) -> None:
        try:
            trees, entries, tiles = await self._run(tree_id, sorted(batch.leaves),
                                                    sorted(batch.tiles))
        except asyncio.CancelledError:  # the server is stopping
            for want in batch.wants:
                want.done.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - every waiter gets the statement's failure
            for want in batch.wants:
                if not want.done.done():
                    want.done.set_exception(e)
        else:
            for want in batch.wants:
                if not want.done.done():  # a waiter cancelled (client gone) is skipped
                    want.done.set_result(BatchRead(
                        trees, None if want.leaf is None else entries.get(want.leaf),
                        {k: tiles[k] for k in want.tiles if k in tiles}))
        finally:
            self._in_flight -= 1
            if self._pending:
                self._flush()


def _split(batch: _Batch, n: int) -> tuple[_Batch, _Batch]:
    first, rest = _Batch(), _Batch()
    for i, want in enumerate(batch.wants):
        part = first if i < n else rest
        part.wants.append(want)
        if want.leaf is not None:
            part.leaves.add(want.leaf)
        part.tiles.update(want.tiles)
    return first, rest
