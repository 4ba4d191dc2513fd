"""Handlers for /api/v1/log/entries: create, get by index or UUID, retrieve."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from rekor_py import merkle
from rekor_py.api.keys import SERVICE, SETTINGS
from rekor_py.api.params import query_int, read_json
from rekor_py.api.problems import json_response
from rekor_py.errors import ConflictError, InvalidEntry, UnprocessableEntity
from rekor_py.log.entries import entry_id, parse_entry_id
from rekor_py.log.sequencer import DuplicateEntry, PreparedEntry
from rekor_py.types import parse_entry
from rekor_py.types.base import MAX_INDEX_KEY_LENGTH

_UUID_PATH = re.compile(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{80}")
# C2SP entry bundles prefix each entry with a uint16 length: a longer canonical
# body could be logged but never served to tile-based auditors.
MAX_CANONICAL_BODY = 65_535
_MAX_QUERIES = 10


def _prepare(proposed: Any, insertable: frozenset[str] | None,
             max_attestation: int = 0) -> PreparedEntry:
    """Parse and verify a proposed entry (raises 4xx) into what the log stores.

    The attestation is kept only when it fits in `max_attestation` bytes."""
    entry = parse_entry(proposed, insertable_kinds=insertable)
    body = entry.canonicalize()
    if len(body) > MAX_CANONICAL_BODY:
        raise InvalidEntry(f"canonical entry is {len(body)} bytes; the limit is "
                           f"{MAX_CANONICAL_BODY} (C2SP entry bundles)")
    attestation = entry.attestation()
    if attestation is not None and len(attestation) > max_attestation:
        attestation = None
    return PreparedEntry(body=body, leaf_hash=merkle.leaf_hash(body), kind=entry.kind,
                         api_version=entry.api_version,
                         index_keys=tuple(k for k in entry.index_keys()
                                          if len(k) <= MAX_INDEX_KEY_LENGTH),
                         attestation=attestation)


async def create_entry(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    settings = request.app[SETTINGS]
    prepared = _prepare(await read_json(request), settings.insertable_kinds,
                        settings.max_attestation_bytes)
    try:
        response = await service.create_entry(prepared)
    except DuplicateEntry as dup:
        existing = entry_id(service.tree_id, dup.leaf_hash)
        raise ConflictError(existing, f"/api/v1/log/entries/{existing}") from None
    new_id = next(iter(response))
    return json_response(response, status=201,
                         headers={"ETag": new_id, "Location": f"{request.path}/{new_id}"})


async def get_entry_by_index(request: web.Request) -> web.Response:
    log_index = query_int(request, "logIndex")
    return json_response(await request.app[SERVICE].get_by_index(log_index))


async def get_entry_by_uuid(request: web.Request) -> web.Response:
    raw = request.match_info["entry_uuid"]
    if not _UUID_PATH.fullmatch(raw):
        raise UnprocessableEntity(
            "entryUUID in path should match '^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$'")
    return json_response(await request.app[SERVICE].get_by_id(parse_entry_id(raw)))


def _query_list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnprocessableEntity(f"{name} in body must be of type array")
    if len(value) > _MAX_QUERIES:
        raise UnprocessableEntity(f"{name} in body should have at most {_MAX_QUERIES} items")
    return value


async def search_log_query(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise UnprocessableEntity("body must be a SearchLogQuery object")
    uuids = _query_list(body, "entryUUIDs")
    indexes = _query_list(body, "logIndexes")
    proposed = _query_list(body, "entries")
    if len(uuids) + len(indexes) + len(proposed) > _MAX_QUERIES:
        raise UnprocessableEntity(f"more than max allowed {_MAX_QUERIES} entries in request")
    for i in indexes:
        if not isinstance(i, int) or isinstance(i, bool) or i < 0:
            raise UnprocessableEntity("logIndexes in body must be integers >= 0")
    ids = [parse_entry_id(u) for u in uuids]
    # Rekor's order (docs/rekor-compat.md#api-retrieve): 80-char IDs, then hash lookups
    # (UUIDs, then entries), then indexes.
    full = [p for p in ids if p.tree_id is not None]
    by_hash = [p for p in ids if p.tree_id is None]
    by_hash += [parse_entry_id(_prepare(e, None).leaf_hash.hex()) for e in proposed]
    service = request.app[SERVICE]
    found = await service.find_by_ids(full) + await service.find_by_ids(by_hash)
    found += await service.find_by_indexes(indexes)
    return json_response(found)
