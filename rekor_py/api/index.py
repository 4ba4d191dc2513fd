"""POST /api/v1/index/retrieve (searchIndex, docs/rekor-compat.md#api-search-index): entry
IDs by hash, key or subject.

The SearchIndex body is checked by its model (api/models.py: schema faults are
422 with go-openapi's wording, bad base64 400); this module turns it into lookup
keys (a key that does not parse is 400) and hands them to log/search.py.
Answers a JSON array of 80-hex entry IDs in log order, `[]` when nothing matches.
Differences from Rekor are listed in the README (sha384 hashes, ordering, the
index is written with the entry).
"""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.keys import SERVICE
from rekor_py.api.models import HASH_PATTERN, SearchIndex, parse_request
from rekor_py.api.params import read_json
from rekor_py.api.problems import json_response
from rekor_py.log.search import (
    Criterion,
    find_entry_ids,
    hash_key,
    public_key_key,
    subject_key,
)

__all__ = ["HASH_PATTERN", "search_criteria", "search_index"]


def search_criteria(query: SearchIndex) -> list[Criterion]:
    """The lookup keys of each criterion given, in Rekor's order: hash, publicKey,
    email, subject.  Raises 400 for a public key that does not parse."""
    criteria: list[Criterion] = []
    if query.hash is not None:
        key = hash_key(query.hash)
        assert key is not None  # the model checked HASH_PATTERN
        criteria.append((key,))
    if query.publicKey is not None:
        criteria.append(public_key_key(query.publicKey.format, query.publicKey.content))
    if query.email is not None:
        criteria.append((subject_key(query.email),))
    if query.subject is not None:
        criteria.append((subject_key(query.subject),))
    return criteria


async def search_index(request: web.Request) -> web.Response:
    query = parse_request(SearchIndex, await read_json(request))
    found = await find_entry_ids(request.app[SERVICE], search_criteria(query), query.operator)
    return json_response(found)
