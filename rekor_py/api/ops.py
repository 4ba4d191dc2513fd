"""Endpoints for operators: GET /metrics (Prometheus) and GET /readyz.

`/healthz` (api/tlog.py) is liveness: the process answers.  `/readyz` is
readiness: the database answers a query within a second, the tree is loaded,
and on a writable server the sequencer runs; else 503 with the reason, so a
load balancer sends no traffic to a server that cannot serve it.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from rekor_py.api.keys import PUBLISHERS, SERVICE, SETTINGS, V2_LOG, VERIFIER
from rekor_py.api.problems import json_response
from rekor_py.observability import metrics

__all__ = ["get_metrics", "get_readyz"]

_READY_TIMEOUT_S = 1.0


async def get_metrics(request: web.Request) -> web.Response:
    app = request.app
    services = [app[SERVICE]]
    v2 = app.get(V2_LOG)
    if v2 is not None:
        services.append(v2.service)
    metrics.VERIFY_QUEUE.set(app[VERIFIER].admitted)
    # The database may be down: serve what the counters hold.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(
            metrics.refresh(services, app.get(PUBLISHERS, []), [app[SERVICE].pool]),
            _READY_TIMEOUT_S)
    return web.Response(body=metrics.exposition(),
                        headers={"Content-Type": metrics.CONTENT_TYPE})


async def get_readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    try:
        head = await asyncio.wait_for(service.head(), _READY_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - any failure means not ready; say which
        reason = "the database did not answer in time" if isinstance(e, TimeoutError) \
            else f"the database is not reachable ({type(e).__name__})"
        return json_response({"code": 503, "message": reason}, status=503,
                             headers={"Retry-After": "1"})
    writable = not request.app[SETTINGS].read_only
    sequencer = service.sequencer
    if writable and (sequencer is None or not sequencer.running):
        return json_response({"code": 503, "message": "the sequencer is not running"},
                             status=503, headers={"Retry-After": "1"})
    return json_response({"status": "ready", "treeID": str(head.tree_id),
                          "treeSize": head.size})
