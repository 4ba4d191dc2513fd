"""Handlers for the tree: log info, consistency proofs, the public key, health."""

from __future__ import annotations

import re

from aiohttp import web

from rekor_py.api.keys import SERVICE
from rekor_py.api.params import query_int
from rekor_py.api.problems import json_response
from rekor_py.errors import InvalidProofRequest, InvalidRequest

_TREE_ID = re.compile(r"[0-9]{1,19}")


async def _tree_id(request: web.Request, error: type[InvalidRequest]) -> int | None:
    """The optional treeID: one of the log's shards (frozen or active), else `error`."""
    raw = request.query.get("treeID")
    if raw is None:
        return None
    if not _TREE_ID.fullmatch(raw):
        raise error(f"invalid tree ID specified: {raw[:40]}")
    if (await request.app[SERVICE].shards()).by_id(int(raw)) is None:
        raise error(f"no log range found for tree ID {int(raw)}")
    return int(raw)


async def get_log_info(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].log_info())


async def get_log_proof(request: web.Request) -> web.Response:
    tree_id = await _tree_id(request, InvalidProofRequest)
    first = query_int(request, "firstSize", default=1, minimum=1)
    last = query_int(request, "lastSize", minimum=1)
    return json_response(await request.app[SERVICE].consistency(first, last, tree_id))


async def get_public_key(request: web.Request) -> web.Response:
    tree_id = await _tree_id(request, InvalidRequest)
    return web.Response(body=await request.app[SERVICE].tree_public_key_pem(tree_id),
                        content_type="application/x-pem-file")


async def ping(request: web.Request) -> web.Response:
    return web.Response(text=".", content_type="text/plain")


async def health(request: web.Request) -> web.Response:
    """Liveness: the process and its event loop answer.  It does not touch the
    database, so an orchestrator does not restart servers while PostgreSQL is
    away; readiness (database, tree, sequencer) is /readyz (api/ops.py)."""
    return json_response({"status": "ok"})
