"""Handlers for the tree: log info, consistency proofs, the public key, health."""

from __future__ import annotations

import re

from aiohttp import web

from rekor_py.api.keys import SERVICE
from rekor_py.api.params import query_int
from rekor_py.api.problems import json_response
from rekor_py.errors import InvalidProofRequest, InvalidRequest

_TREE_ID = re.compile(r"[0-9]{1,19}")


def _check_tree_id(request: web.Request, error: type[InvalidRequest]) -> None:
    """An optional treeID must name our tree (single shard for now)."""
    raw = request.query.get("treeID")
    if raw is None:
        return
    if not _TREE_ID.fullmatch(raw):
        raise error(f"invalid tree ID specified: {raw[:40]}")
    if int(raw) != request.app[SERVICE].tree_id:
        raise error(f"no log range found for tree ID {int(raw)}")


async def get_log_info(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].log_info())


async def get_log_proof(request: web.Request) -> web.Response:
    _check_tree_id(request, InvalidProofRequest)
    first = query_int(request, "firstSize", default=1, minimum=1)
    last = query_int(request, "lastSize", minimum=1)
    return json_response(await request.app[SERVICE].consistency(first, last))


async def get_public_key(request: web.Request) -> web.Response:
    _check_tree_id(request, InvalidRequest)
    return web.Response(body=request.app[SERVICE].public_key_pem(),
                        content_type="application/x-pem-file")


async def ping(request: web.Request) -> web.Response:
    return web.Response(text=".", content_type="text/plain")


async def health(request: web.Request) -> web.Response:
    """Ready when the database answers and the tree head can be read."""
    info = await request.app[SERVICE].log_info()
    return json_response({"status": "ok", "treeSize": info.treeSize})
