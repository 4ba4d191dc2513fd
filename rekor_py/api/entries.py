"""Handlers for /api/v1/log/entries: create, get by index or UUID, retrieve."""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import web

from rekor_py.api.keys import PUBLISHER, SERVICE, SETTINGS, VERIFIER
from rekor_py.api.models import SearchLogQuery, parse_request
from rekor_py.api.params import query_int, read_body, read_json
from rekor_py.api.problems import json_body_response
from rekor_py.errors import ConflictError, UnprocessableEntity
from rekor_py.log.entries import entry_id, parse_entry_id
from rekor_py.log.sequencer import DuplicateEntry

_UUID_PATH = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{80}")


async def create_entry(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    settings = request.app[SETTINGS]
    # Parsing and verification run in the verification pool, never on this loop.
    prepared = await request.app[VERIFIER].verify(
        (await read_body(request), settings.insertable_kinds, settings.max_attestation_bytes))
    try:
        response = await service.create_entry(prepared)
    except DuplicateEntry as dup:
        existing = entry_id(dup.tree_id, dup.leaf_hash)
        raise ConflictError(existing, f"/api/v1/log/entries/{existing}") from None
    new_id = response.uuid
    publisher = request.app.get(PUBLISHER)
    if publisher is not None and publisher.fail_closed:
        # Acknowledge only once a checkpoint holding the entry has its witness quorum.
        await publisher.wait_published(int(new_id[:16], 16), response.tree_size)
    return json_body_response(response.json() + b"\n", status=201,
                              headers={"ETag": new_id, "Location": f"{request.path}/{new_id}"})


async def get_entry_by_index(request: web.Request) -> web.Response:
    log_index = query_int(request, "logIndex")
    return json_body_response((await request.app[SERVICE].get_by_index(log_index)).json()
                              + b"\n")


async def get_entry_by_uuid(request: web.Request) -> web.Response:
    raw = request.match_info["entry_uuid"]
    if not _UUID_PATH.fullmatch(raw):
        raise UnprocessableEntity(
            "entryUUID in path should match '^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$'")
    return json_body_response((await request.app[SERVICE].get_by_id(parse_entry_id(raw))).json()
                              + b"\n")


async def search_log_query(request: web.Request) -> web.Response:
    query = parse_request(SearchLogQuery, await read_json(request))
    uuids, indexes = query.entryUUIDs or [], query.logIndexes or []
    proposed = query.entries or []
    ids = [parse_entry_id(u) for u in uuids]
    # Rekor's order (docs/rekor-compat.md#api-retrieve): 80-char IDs, then hash lookups
    # (UUIDs, then entries), then indexes.
    full = [p for p in ids if p.tree_id is not None]
    by_hash = [p for p in ids if p.tree_id is None]
    verifier = request.app[VERIFIER]
    prepared = await asyncio.gather(*[
        verifier.verify((json.dumps(e).encode(), None, 0)) for e in proposed])
    by_hash += [parse_entry_id(p.leaf_hash.hex()) for p in prepared]
    service = request.app[SERVICE]
    found = await service.find_by_ids(full) + await service.find_by_ids(by_hash)
    found += await service.find_by_indexes(indexes)
    return json_body_response(b"[" + b",".join([e.json() for e in found]) + b"]\n")
