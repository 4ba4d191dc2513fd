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
- `POST /api/v2/index/retrieve` (ours; Rekor v2 has no search): Rekor v1's
  SearchIndex body; the matching v2 entries as TransparencyLogEntry objects,
  each with its inclusion proof at the current checkpoint.
- `GET /api/v2/checkpoint`, `/api/v2/checkpoint.vkeys`, `/api/v2/tile/...`:
  c2sp.org/tlog-tiles for the v2 tree (rekor-tiles answers 501 on these paths
  and serves tiles from its storage bucket; clients read them under /api/v2/).
"""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.index import search_criteria
from rekor_py.api.keys import NOTARY, PUBLISHER, SERVICE, V2_LOG, VERIFIER
from rekor_py.api.models import SearchIndex, parse_request
from rekor_py.api.params import read_body, read_json
from rekor_py.api.problems import json_response
from rekor_py.api.routes import add_tile_routes
from rekor_py.api.tiles import TILE_CACHE, ImmutableCache
from rekor_py.errors import InvalidRequest, LogIndexConflict
from rekor_py.log.c2sp import CheckpointNotary, TreeNotaries
from rekor_py.log.prepare import REKOR_V2_REQUEST
from rekor_py.log.search import find_entries
from rekor_py.log.sequencer import DuplicateEntry
from rekor_py.log.v2_log import V2Log, transparency_log_entry

__all__ = ["PREFIX", "add_v2_routes", "v2_app"]

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
    publisher = request.app.get(PUBLISHER)
    if publisher is not None and publisher.fail_closed:
        await publisher.wait_published(done.head.tree_id, done.head.size)
    entry = transparency_log_entry(v2.log_id, done.leaf_index, prepared.body, done.head.size,
                                   done.head.root_hash, proof, done.head.checkpoint)
    return json_response(entry, status=201)


# A v2 search answers whole entries with their proofs: past this many matches the
# client is asked to narrow the search, rather than the server proving them all.
MAX_SEARCH_RESULTS = 1000


async def search_index(request: web.Request) -> web.Response:
    """POST /api/v2/index/retrieve (ours: Rekor v2 has no search): Rekor v1's
    SearchIndex body, answered with the matching v2 entries in log order, each a
    TransparencyLogEntry with its inclusion proof at the current checkpoint."""
    v2 = request.app[V2_LOG]
    query = parse_request(SearchIndex, await read_json(request))
    hits = await find_entries(v2.service, search_criteria(query), query.operator)
    indexes = [index for tree_id, index, _ in hits if tree_id == v2.service.tree_id]
    if len(indexes) > MAX_SEARCH_RESULTS:
        raise InvalidRequest(f"the search matches {len(indexes)} entries; at most "
                             f"{MAX_SEARCH_RESULTS} are answered: narrow it (operator \"and\")")
    tree, found = await v2.service.entries_with_proofs(indexes)
    return json_response([
        transparency_log_entry(v2.log_id, row.leaf_index, row.body, tree.size,
                               tree.root_hash, proof, tree.checkpoint)
        for row, proof in found])


def add_v2_routes(app: web.Application) -> None:
    """The routes of the sub-application, relative to PREFIX."""
    app.router.add_post("/log/entries", create_entry)
    app.router.add_post("/index/retrieve", search_index)
    add_tile_routes(app, "")


def v2_app(v2: V2Log) -> web.Application:
    """The sub-application to mount at PREFIX."""
    app = web.Application()
    app[V2_LOG] = v2
    app[SERVICE] = v2.service
    app[NOTARY] = TreeNotaries.fixed(CheckpointNotary(v2.origin, [v2.note_signer]))
    app[TILE_CACHE] = ImmutableCache()
    add_v2_routes(app)
    return app
