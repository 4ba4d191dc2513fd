"""From a proposed entry's JSON bytes to what the log stores for it.

`prepare_raw` is the whole CPU-bound part of an upload: decode the JSON, parse
and verify the entry, canonicalize it, hash the leaf, derive its search keys,
deflate the body into its stored form (storage/body_codec.py).
It runs in a verification worker (log/verify_pool.py), never on the event
loop, so its arguments and result are small and picklable: bytes in, a
PreparedEntry out, or a RekorError (4xx) raised.

It also refuses search keys with a NUL or a lone surrogate, as a 400 that names
the key.  PostgreSQL's text could not hold them; keys are stored hashed since
revision 0005, and still refused, so that what the log accepts did not change.
(The sequencer still isolates an entry PostgreSQL refuses.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from rekor_py import json_limits, limits, merkle
from rekor_py.errors import InvalidEntry, InvalidRequest
from rekor_py.log.prepared import PreparedEntry
from rekor_py.logsafe import clip
from rekor_py.storage.body_codec import encode_body
from rekor_py.types import parse_entry
from rekor_py.types.base import MAX_INDEX_KEY_LENGTH

__all__ = ["MAX_CANONICAL_BODY", "REKOR_V2_REQUEST", "decode_json", "prepare_entry",
           "prepare_raw"]

# C2SP entry bundles prefix each entry with a uint16 length: a longer canonical
# body could be logged but never served to tile-based auditors.
MAX_CANONICAL_BODY = 65_535


def decode_json(raw: bytes) -> Any:
    """A request body as JSON; 400 for malformed JSON, or JSON past the number
    and depth limits (json_limits)."""
    try:
        return json_limits.loads(raw)
    except (json_limits.JSONLimitError, UnicodeDecodeError, json.JSONDecodeError) as e:
        # json_limits turns a RecursionError into a JSONLimitError naming the limit.
        raise InvalidRequest(f"malformed JSON: {e}") from None


# In a verification job's place of the insertable kinds: the body is a Rekor v2
# CreateEntryRequest (types/hashedrekord_v2.py), not a v1 proposed entry.
REKOR_V2_REQUEST = frozenset({"rekor v2 CreateEntryRequest"})


def prepare_raw(raw: bytes, insertable: frozenset[str] | None,
                max_attestation: int) -> PreparedEntry:
    """decode_json, then prepare_entry (or, for REKOR_V2_REQUEST, the v2 request's
    own preparation).  An entry to insert (`insertable` given) comes with its
    stored body, deflated here rather than on the sequencer's event loop."""
    if insertable == REKOR_V2_REQUEST:
        from rekor_py.types.hashedrekord_v2 import prepare_v2_request

        entry = prepare_v2_request(decode_json(raw))
    else:
        entry = prepare_entry(decode_json(raw), insertable, max_attestation)
    if insertable is None:  # parsed for search: never stored
        return entry
    return dataclasses.replace(entry, stored_body=encode_body(entry.body))


def prepare_entry(proposed: Any, insertable: frozenset[str] | None,
                  max_attestation: int = 0) -> PreparedEntry:
    """Parse and verify a proposed entry (raises 4xx) into what the log stores.

    `insertable` None parses for search (no kind allow-list, no policy).  The
    attestation is kept only when it fits in `max_attestation` bytes."""
    entry = parse_entry(proposed, insertable_kinds=insertable)
    body = entry.canonicalize()
    if len(body) > MAX_CANONICAL_BODY:
        raise InvalidEntry(f"canonical entry is {len(body)} bytes; the limit is "
                           f"{MAX_CANONICAL_BODY} (C2SP entry bundles)")
    attestation = entry.attestation()
    if attestation is not None and len(attestation) > max_attestation:
        attestation = None
    keys = storable_index_keys(entry.index_keys())
    return PreparedEntry(body=body, leaf_hash=merkle.leaf_hash(body), kind=entry.kind,
                         api_version=entry.api_version, index_keys=keys,
                         attestation=attestation)


def storable_index_keys(keys: Sequence[str]) -> tuple[str, ...]:
    """The keys to write: over-long ones dropped (see MAX_INDEX_KEY_LENGTH); 400 for
    too many keys or one PostgreSQL's text type cannot hold."""
    cap = limits.current().max_index_keys
    if len(keys) > cap:
        raise InvalidEntry(limits.limit_error_message(
            "max_index_keys", len(keys), cap, "the number of the entry's search keys"))
    for key in keys:
        refusal = _unstorable(key)
        if refusal is not None:
            raise InvalidEntry(f"search key {clip(key, 80)} (derived from the entry's "
                               f"content) {refusal}: the log cannot store it")
    return tuple(k for k in keys if len(k) <= MAX_INDEX_KEY_LENGTH)


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None
