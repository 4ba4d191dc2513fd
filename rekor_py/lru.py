"""One least-recently-used cache, bounded by the bytes it holds rather than its entry count.

A count bound lets a cache of parsed keys hold 1,024 one-megabyte inputs;
a byte bound keeps every cache of this server within a known share of its
memory whatever the entries weigh.  Each entry's weight is given by the
caller (`size_of`): the bytes of its key plus an estimate of its value.
An entry heavier than the whole budget is simply not kept.

Thread-safe: verification may run in worker threads beside the event loop.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ByteLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What one entry costs besides its payload: the OrderedDict node, the key
# object and the value's own object headers (measured, rounded up).
ENTRY_OVERHEAD = 256


class ByteLRU(Generic[K, V]):
    """A dict-like LRU whose entries' weights sum to at most `max_bytes`."""

    def __init__(self, max_bytes: int, size_of: Callable[[K, V], int]) -> None:
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size_of = size_of
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self.bytes_used = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> None:
        weight = self._size_of(key, value) + ENTRY_OVERHEAD
        with self._lock:
            self._discard(key)
            if weight > self.max_bytes:
                return
            self._items[key] = (value, weight)
            self.bytes_used += weight
            while self.bytes_used > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self.bytes_used -= dropped

    def pop(self, key: K) -> None:
        with self._lock:
            self._discard(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes_used = 0

    def _discard(self, key: K) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes_used -= old[1]
