"""The Rekor v2 API, as sigstore/rekor-tiles serves it over HTTP, on its own tree.

Mounted at /api/v2 as an aiohttp sub-application, so that the tile handlers
(api/tiles.py) serve the v2 tree with the v2 log's checkpoint without knowing
which tree they serve: request.app is the sub-application, holding the v2
service, its notary and its own tile cache.  The parent's middlewares (error
body, body size and deadline) apply to these routes too.

- `POST /api/v2/log/entries`: a hashedRekordRequestV002, verified in the
  verification pool; 201 with a TransparencyLogEntry (log/v2_log.py) once the
  entry is in a signed checkpoint, which here is the batch's own commit
  (milliseconds: rekor-tiles waits for its next published checkpoint, about a
  second); 409 with `x-log-index` for an entry already in the tree; 503 with
  Retry-After when the sequencer is full.
- `GET /api/v2/checkpoint`, `/api/v2/checkpoint.vkeys`, `/api/v2/tile/...`:
  c2sp.org/tlog-tiles for the v2 tree (rekor-tiles answers 501 on these paths
  and serves tiles from its storage bucket; clients read them under /api/v2/).
"""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.keys import NOTARY, SERVICE, V2_LOG, VERIFIER
from rekor_py.api.params import read_body
from rekor_py.api.problems import json_response
from rekor_py.api.routes import add_tile_routes
from rekor_py.api.tiles import TILE_CACHE, ImmutableCache
from rekor_py.errors import LogIndexConflict
from rekor_py.log.c2sp import CheckpointNotary
from rekor_py.log.prepare import REKOR_V2_REQUEST
from rekor_py.log.sequencer import DuplicateEntry
from rekor_py.log.v2_log import V2Log, transparency_log_entry

__all__ = ["PREFIX", "v2_app"]

PREFIX = "/api/v2"


async def create_entry(request: web.Request) -> web.Response:
    v2 = request.app[V2_LOG]
    # Parsing and verification run in the verification pool, never on this loop.
    prepared = await request.config_dict[VERIFIER].verify(
        (await read_body(request), REKOR_V2_REQUEST, 0))
    try:
        done, proof = await v2.service.append(prepared)
    except DuplicateEntry as dup:
        raise LogIndexConflict(dup.leaf_index) from None
    entry = transparency_log_entry(v2.log_id, done.leaf_index, prepared.body, done.head.size,
                                   done.head.root_hash, proof, done.head.checkpoint)
    return json_response(entry, status=201)


def v2_app(v2: V2Log) -> web.Application:
    """The sub-application to mount at PREFIX."""
    app = web.Application()
    app[V2_LOG] = v2
    app[SERVICE] = v2.service
    app[NOTARY] = CheckpointNotary(v2.origin, [v2.note_signer])
    app[TILE_CACHE] = ImmutableCache()
    app.router.add_post("/log/entries", create_entry)
    add_tile_routes(app, "")
    return app
