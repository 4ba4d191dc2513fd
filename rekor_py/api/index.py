"""POST /api/v1/index/retrieve (searchIndex, docs/rekor-compat.md#api-search-index): entry
IDs by hash, key or subject.

This module owns reading the SearchIndex body the way go-swagger validates it
(schema faults are 422 with go-openapi's wording, key faults 400), and hands
the lookup keys to log/search.py.  Answers a JSON array of 80-hex entry IDs in
log order, `[]` when nothing matches.  Differences from Rekor are listed in the
README (sha384 hashes, ordering, the index is written with the entry).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, cast

from aiohttp import web

from rekor_py.api.keys import SERVICE
from rekor_py.api.params import read_json
from rekor_py.api.problems import json_response
from rekor_py.errors import InvalidRequest, UnprocessableEntity
from rekor_py.log.search import (
    PKI_FORMATS,
    Criterion,
    Operator,
    find_entry_ids,
    hash_key,
    public_key_key,
    subject_key,
)

__all__ = ["HASH_PATTERN", "search_index"]

# Rekor's pattern plus sha384 (a deliberate difference: README, "Search").
HASH_PATTERN = ("^(sha512:)?[0-9a-fA-F]{128}$|^(sha384:)?[0-9a-fA-F]{96}$|"
                "^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$")
_MAX_SUBJECT = 512
# go-openapi's strfmt email is net/mail.ParseAddress; we accept the plain
# addr-spec only (no display name), which is what the index stores.
_EMAIL_RE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_MAX_EMAIL = 254


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{name} in body must be of type string")
    return value


def _operator(body: dict[str, Any]) -> Operator:
    value = _string(body, "operator")
    if value in (None, ""):
        return "or"  # Rekor's default
    if value not in ("and", "or"):
        raise UnprocessableEntity("operator in body should be one of [and or]")
    return cast(Operator, value)


def _hash_criterion(body: dict[str, Any]) -> Criterion | None:
    value = _string(body, "hash")
    if not value:
        return None  # Go treats "" as absent
    key = hash_key(value)
    if key is None:
        raise UnprocessableEntity(f"hash in body should match '{HASH_PATTERN}'")
    return (key,)


def _email_criterion(body: dict[str, Any]) -> Criterion | None:
    value = _string(body, "email")
    if not value:
        return None
    if len(value) > _MAX_EMAIL or not _EMAIL_RE.fullmatch(value):
        raise UnprocessableEntity(f'email in body must be of type email: "{value[:100]}"')
    return (subject_key(value),)


def _subject_criterion(body: dict[str, Any]) -> Criterion | None:
    value = _string(body, "subject")
    if value is None:
        return None
    if not value:
        raise UnprocessableEntity("subject in body should be at least 1 chars long")
    if len(value) > _MAX_SUBJECT:
        raise UnprocessableEntity(f"subject in body should be at most {_MAX_SUBJECT} chars long")
    return (subject_key(value),)


def _public_key_criterion(body: dict[str, Any]) -> Criterion | None:
    value = body.get("publicKey")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UnprocessableEntity("publicKey in body must be of type object")
    pki_format = value.get("format")
    if pki_format is None:
        raise UnprocessableEntity("publicKey.format in body is required")
    if pki_format not in PKI_FORMATS:
        raise UnprocessableEntity(
            f"publicKey.format in body should be one of [{' '.join(PKI_FORMATS)}]")
    return public_key_key(pki_format, _b64_content(value.get("content")))


def _b64_content(value: object) -> bytes:
    """`format: byte`: standard base64; absent or empty is an empty key (which won't parse)."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise UnprocessableEntity("publicKey.content in body must be of type string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("publicKey.content in body must be base64") from None


async def search_index(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise UnprocessableEntity("body must be a SearchIndex object")
    operator = _operator(body)
    # Rekor's order of criteria: hash, publicKey, email, subject.
    criteria = [_hash_criterion(body), _public_key_criterion(body),
                _email_criterion(body), _subject_criterion(body)]
    found = await find_entry_ids(request.app[SERVICE], [c for c in criteria if c], operator)
    return json_response(found)
