"""How much memory this machine has, and the share of it a cache takes by default.

Sized to the machine rather than fixed: 64 MiB per cache stops holding a log's
tiles at a few million entries, and then every read fetches them from the
database again.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["cache_bytes", "memory_bytes"]

_MIN_CACHE_BYTES = 64 << 20
_MAX_CACHE_BYTES = 1 << 30


def memory_bytes() -> int:
    """The memory of this machine, or of the cgroup we run in if that is less."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max",  # cgroup v2
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # v1
        with contextlib.suppress(OSError, ValueError):  # "max": no limit
            total = min(total, int(Path(limit_file).read_text().strip()))
    return total


def cache_bytes(total_bytes: int | None = None) -> int:
    """The default bound of one per-process cache of immutable data: 1/32 of the
    memory, between 64 MiB and 1 GiB.  Every server process holds its own, and
    there are two such caches (the proofs' tiles, the tile API's response bodies),
    so `serve --workers 2` on a 24 GiB machine keeps at most 3 GiB in them (1/8);
    a frozen shard that is read gets a proof cache of its own as well."""
    if total_bytes is None:
        total_bytes = memory_bytes()
    return max(_MIN_CACHE_BYTES, min(_MAX_CACHE_BYTES, total_bytes // 32))
