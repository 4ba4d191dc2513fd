"""The search index as the API sees it (docs/rekor-compat.md#api-search-index): lookup keys
in, entry IDs out.

This module owns turning search criteria into the keys the entry types wrote
(`EntryType.index_keys()`, stored with the entry, hashed: storage/search_keys.py
says why the answers are the same as with the keys themselves), and the one read
that answers a search.  Parsing the request body and its schema errors belong to
api/index.py; which keys an entry has belongs to types/.

Key forms (what each criterion looks up):

- hash: "<alg>:<lowercase hex>".  A bare value gets its prefix from its length
  (40 sha1, 64 sha256, 96 sha384, 128 sha512).  Rekor has no sha384 here
  (docs/rekor-compat.md#trap-index-best-effort); we do, because hashedrekord accepts sha384
  artifacts.
- publicKey: hex SHA-256 of the key's canonical value, parsed with its
  format's parser (pki.FORMATS), in both forms the entry types write: bare
  (hashedrekord, rekord) and "sha256:"-prefixed (intoto, dsse).  Rekor looks
  up only the bare form, so its key search misses intoto and dsse entries
  (docs/rekor-compat.md#trap-key-index-forms); we find them on purpose.
- email, subject: the SAN value, lowercased; both search the same keys.

Combining: a criterion matches an entry holding any of its keys; `or` is the
union over the criteria, `and` their intersection.  Results come in log
order (tree ID, then leaf index), not at random as in Rekor.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

import asyncpg  # type: ignore[import-untyped]

from rekor_py.errors import InvalidRequest, StorageError
from rekor_py.log.entries import entry_id
from rekor_py.log.service import LogService
from rekor_py.pki import FORMATS, PKIError
from rekor_py.pki.base import InputLimitError
from rekor_py.storage import log_store

__all__ = [
    "PKI_FORMATS",
    "Criterion",
    "Operator",
    "SearchIndexError",
    "find_entries",
    "find_entry_ids",
    "hash_key",
    "public_key_key",
    "subject_key",
]

Operator = Literal["and", "or"]
# One search criterion: the index keys any of which makes an entry match it.
Criterion = tuple[str, ...]

# The publicKey.format enum of Rekor's SearchIndex schema.  Those we parse are
# pki.FORMATS (tuf is not a signature format here: no kind of ours stores one).
PKI_FORMATS = ("pgp", "x509", "minisign", "ssh", "tuf")

_HASH_PREFIXES = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
_HASH_RE = re.compile(r"(?:(sha1|sha256|sha384|sha512):)?([0-9a-fA-F]+)")


class SearchIndexError(StorageError):
    """The index read failed (500, Rekor's wording); the cause goes to the log."""

    message = "unexpected result from searching index"


def hash_key(value: str) -> str | None:
    """The index key of an artifact hash, or None when `value` is not a known digest form."""
    match = _HASH_RE.fullmatch(value)
    if match is None:
        return None
    algorithm, hex_value = match.group(1), match.group(2)
    by_length = _HASH_PREFIXES.get(len(hex_value))
    if by_length is None or (algorithm is not None and algorithm != by_length):
        return None
    return f"{by_length}:{hex_value.lower()}"


def public_key_key(pki_format: str, content: bytes) -> Criterion:
    """The index keys of a public key: hex SHA-256 of its canonical value, bare and "sha256:"-prefixed.

    Requires `pki_format` in PKI_FORMATS.  Raises InvalidRequest (400) with Rekor's
    messages for a format this server cannot parse, or a key that does not parse.
    """
    fmt = FORMATS.get(pki_format)
    if fmt is None:
        raise InvalidRequest("the PKI format requested is not supported by this server")
    try:
        key = fmt.public_key.from_bytes(content)
    except InputLimitError as e:
        # Rekor's message, and which limit refused the key (limits.py).
        raise InvalidRequest(f"public key provided could not be parsed: {e}") from e
    except PKIError as e:
        raise InvalidRequest("public key provided could not be parsed") from e
    key_hash = hashlib.sha256(key.canonical_value()).hexdigest()
    return (key_hash, f"sha256:{key_hash}")


def subject_key(value: str) -> str:
    """The index key of an email or SAN subject (lowercased, as stored)."""
    return value.lower()


async def find_entry_ids(service: LogService, criteria: Sequence[Criterion],
                         operator: Operator) -> list[str]:
    """80-hex entry IDs matching the criteria, in log order (see find_entries)."""
    return [entry_id(tree_id, leaf_hash)
            for tree_id, _, leaf_hash in await find_entries(service, criteria, operator)]


async def find_entries(service: LogService, criteria: Sequence[Criterion],
                       operator: Operator) -> list[tuple[int, int, bytes]]:
    """(tree ID, leaf index, leaf hash) of the entries matching the criteria, in log
    order, among the entries of `service`'s API (a v1 search never finds a v2
    entry, nor the reverse).

    An entry matches a criterion when it holds any of the criterion's keys.
    `or`: entries matching any criterion; `and`: entries matching every one.
    No criteria finds nothing.  Raises StorageError when the database fails.
    """
    if not criteria:
        return []
    # No stored key has a NUL (log/prepare.py refuses them): such a search term
    # matches nothing, so it is not even looked up.
    keys = sorted({key for criterion in criteria for key in criterion if "\x00" not in key})
    rows = await _search(service, keys) if keys else []
    by_key: dict[str, set[tuple[int, int]]] = {}
    hashes: dict[tuple[int, int], bytes] = {}
    for key, tree_id, leaf_index, leaf_hash in rows:
        where = (tree_id, leaf_index)
        by_key.setdefault(key, set()).add(where)
        hashes[where] = leaf_hash
    sets = [set().union(*(by_key.get(key, set()) for key in criterion)) for criterion in criteria]
    hits = set.intersection(*sets) if operator == "and" else set.union(*sets)
    return [(tree_id, index, hashes[(tree_id, index)]) for tree_id, index in sorted(hits)]


async def _search(service: LogService, keys: list[str]) -> list[tuple[str, int, int, bytes]]:
    try:
        async with service.connection() as conn:
            return await log_store.find_index_entries(conn, keys, service.api_major)
    except (OSError, asyncpg.PostgresError) as e:
        raise SearchIndexError(f"index read failed: {type(e).__name__}") from e
