"""Prometheus metrics of the log server, served at GET /metrics.

The metrics are module-level prometheus-client objects, updated where things
happen (HTTP middleware, the sequencer, the verification pool) and, for levels
that are cheaper to read than to track (tree size, checkpoint age, pool use,
queue depths, witness results), refreshed when /metrics is scraped.

With `--workers N` several processes serve one port, and a scrape reaches one
of them; the runner then sets PROMETHEUS_MULTIPROC_DIR (a private folder)
before the workers start, prometheus-client's multiprocess mode keeps each
process's values in files there, and every scrape sums them (gauges: `livesum`,
the sum over live processes; a replaced worker's files are marked dead).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from rekor_py.log.service import LogService
    from rekor_py.witness.publisher import Publisher

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "exposition", "observe_request", "refresh"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

ENTRIES = Counter("rekor_entries_appended_total", "Entries appended to the log",
                  ["api", "kind"])
REQUESTS = Histogram("rekor_http_request_duration_seconds",
                     "HTTP requests by route, method and status class",
                     ["route", "method", "status"],
                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                              5, 10, 30))
REJECTIONS = Counter("rekor_rejections_total", "Requests refused, by status and reason",
                     ["status", "reason"])
BATCH_SIZE = Histogram("rekor_batch_entries", "Entries per committed batch", ["api"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
BATCH_COMMIT = Histogram("rekor_batch_commit_seconds",
                         "Time to commit one batch (lock, write, sign the head)", ["api"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                  2.5))
PENDING = Gauge("rekor_pending_entries", "Entries waiting for the sequencer", ["api"],
                multiprocess_mode="livesum")
VERIFY_QUEUE = Gauge("rekor_verify_queue", "Entries being verified or waiting for a worker",
                     multiprocess_mode="livesum")
TREE_SIZE = Gauge("rekor_tree_size", "Size of the active tree", ["api"],
                  multiprocess_mode="max")
CHECKPOINT_AGE = Gauge("rekor_checkpoint_age_seconds",
                       "Seconds since the active tree's head last moved (as this process saw)",
                       ["api"], multiprocess_mode="min")
DB_POOL = Gauge("rekor_db_pool_connections", "PostgreSQL connections of the server's pools",
                ["state"], multiprocess_mode="livesum")
WITNESS = Gauge("rekor_witness_requests", "add-checkpoint outcomes per witness (this process)",
                ["api", "witness", "outcome"], multiprocess_mode="livesum")

_last_head: dict[str, tuple[int, float]] = {}


# The histogram's children by (route, method, status class), bound once: labels()
# checks and locks on every call, a few microseconds per request.  As many as the
# histogram's own children (it keeps every label set it was given).
_REQUEST_CHILDREN: dict[tuple[str, str, int], Any] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status // 100)
    child = _REQUEST_CHILDREN.get(key)
    if child is None:
        child = _REQUEST_CHILDREN[key] = REQUESTS.labels(route, method, f"{status // 100}xx")
    child.observe(seconds)


async def refresh(services: list[LogService], publishers: list[Publisher],
                  pools: list[Any]) -> None:
    """Levels read at scrape time."""
    now = time.monotonic()
    for service in services:
        api = f"v{service.api_major}"
        head = await service.head()
        TREE_SIZE.labels(api).set(head.size)
        last = _last_head.get(api)
        if last is None or last[0] != head.size:
            _last_head[api] = (head.size, now)
        CHECKPOINT_AGE.labels(api).set(now - _last_head[api][1])
        if service.sequencer is not None:
            PENDING.labels(api).set(service.sequencer.pending)
    for publisher in publishers:
        api = f"v{publisher.service.api_major}"
        for (witness, outcome), count in publisher.results.items():
            WITNESS.labels(api, witness, outcome).set(count)
    in_use = idle = 0
    for pool in pools:
        size, free = pool.get_size(), pool.get_idle_size()
        in_use, idle = in_use + size - free, idle + free
    DB_POOL.labels("in_use").set(in_use)
    DB_POOL.labels("idle").set(idle)


def exposition() -> bytes:
    """The text exposition: this process's registry, or every process's (multiprocess)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()
