"""The log's size at each hour of the last hours, for the explorer's growth chart.

No index covers `entries.integrated_time`, and none is needed: the sequencer stamps
batches in commit order, so within a tree the time does not decrease with the leaf
index.  The size at time T is then the first leaf stamped at or after T, found by a
binary search over the primary key; all the hour marks are searched together, one
query per step (about 24 for a 10M-entry tree), each a handful of index probes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rekor_py.log.service import LogService
from rekor_py.storage import log_store

__all__ = ["Growth", "growth"]

_MAX_HOURS = 168


@dataclass(frozen=True)
class Growth:
    now: int
    points: list[tuple[int, int]]  # (unix time, log-wide size)

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now, "points": [{"time": t, "size": s} for t, s in self.points]}


async def growth(service: LogService, hours: int, now: float | None = None,
                 step_s: int = 3600) -> Growth:
    """The log-wide size at each whole hour (`step_s`) of the last `hours` steps (at
    most a week of hours), and now."""
    hours = max(1, min(hours, _MAX_HOURS))
    head = await service.head()
    end = int(now if now is not None else time.time())
    marks = [end - (end % step_s) - step_s * k for k in range(hours, -1, -1)]
    # For each mark: leaves [0, lo) are stamped before it, [hi, size) at or after it.
    lo = [0] * len(marks)
    hi = [head.size] * len(marks)
    async with service.connection() as conn:
        while True:
            probes = {(a + b) // 2 for a, b in zip(lo, hi, strict=True) if a < b}
            if not probes:
                break
            stamp = await log_store.integrated_times(conn, head.tree_id, sorted(probes))
            for i, mark in enumerate(marks):
                if lo[i] < hi[i]:
                    mid = (lo[i] + hi[i]) // 2
                    if stamp.get(mid, mark) < mark:
                        lo[i] = mid + 1
                    else:
                        hi[i] = mid
    offset = head.virtual_offset
    points = [(mark, offset + lo[i]) for i, mark in enumerate(marks)]
    points.append((end, offset + head.size))
    return Growth(now=end, points=points)
