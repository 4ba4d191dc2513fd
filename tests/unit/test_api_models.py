"""Request models: go-openapi's status and wording for each schema fault (api/models.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import RootModel
from pydantic_core import to_json

from rekor_py.api.models import (
    LogEntry,
    LogEntryAnon,
    SearchIndex,
    SearchLogQuery,
    parse_request,
    to_json_body,
)
from rekor_py.errors import InvalidRequest, RekorError, UnprocessableEntity


@pytest.mark.parametrize(("body", "error", "message"), [
    ([], UnprocessableEntity, "body must be a SearchLogQuery object"),
    ({"entryUUIDs": "a" * 64}, UnprocessableEntity, "entryUUIDs in body must be of type array"),
    ({"entries": [{}] * 11}, UnprocessableEntity, "entries in body should have at most 10 items"),
    ({"logIndexes": [1, -1]}, UnprocessableEntity,
     "logIndexes.1 in body should be greater than or equal to 0"),
    ({"logIndexes": [True]}, UnprocessableEntity, "logIndexes.0 in body must be of type integer"),
    ({"logIndexes": [1.0]}, UnprocessableEntity, "logIndexes.0 in body must be of type integer"),
    ({"logIndexes": list(range(6)), "entryUUIDs": ["a"] * 5}, UnprocessableEntity,
     "more than max allowed 10 entries in request"),
])
def test_search_log_query_rejections(body: Any, error: type[RekorError], message: str) -> None:
    with pytest.raises(error) as e:
        parse_request(SearchLogQuery, body)
    assert type(e.value) is error and e.value.client_message == message


def test_search_log_query_nulls_are_empty() -> None:
    query = parse_request(SearchLogQuery, {"entryUUIDs": None, "logIndexes": [0, 2**70],
                                           "unknown": 1})
    assert (query.entryUUIDs, query.logIndexes, query.entries) == (None, [0, 2**70], None)


@pytest.mark.parametrize(("body", "error", "message"), [
    ({"operator": 1}, UnprocessableEntity, "operator in body must be of type string"),
    ({"operator": "AND"}, UnprocessableEntity, "operator in body should be one of [and or]"),
    ({"subject": 5}, UnprocessableEntity, "subject in body must be of type string"),
    ({"publicKey": {"format": None}}, UnprocessableEntity, "publicKey.format in body is required"),
    ({"publicKey": {"format": "ssh", "content": 5}}, UnprocessableEntity,
     "publicKey.content in body must be of type string"),
    ({"publicKey": {"format": "ssh", "content": "AA="}}, InvalidRequest,
     "publicKey.content in body must be base64"),
    # The first fault in Rekor's order is the one reported.
    ({"subject": "", "hash": "x"}, UnprocessableEntity, "hash in body should match"),
    ({"email": "x" * 300 + "@example.com"}, UnprocessableEntity,
     'email in body must be of type email: "' + "x" * 100 + '"'),
])
def test_search_index_rejections(body: Any, error: type[RekorError], message: str) -> None:
    with pytest.raises(error) as e:
        parse_request(SearchIndex, body)
    assert type(e.value) is error and e.value.client_message.startswith(message)


def test_search_index_defaults_and_empty_values() -> None:
    query = parse_request(SearchIndex, {"operator": "", "hash": "", "email": "",
                                        "publicKey": {"format": "x509"}})
    assert (query.operator, query.hash, query.email, query.subject) == ("or", None, None, None)
    assert query.publicKey is not None and query.publicKey.content == b""
    query = parse_request(SearchIndex, {"operator": "and", "publicKey": {
        "format": "pgp", "content": "AAEC", "url": "ignored"}})
    assert query.operator == "and" and query.publicKey is not None
    assert query.publicKey.content == b"\x00\x01\x02"


# ---- LogEntry, written directly --------------------------------------------------------


class _Reference(RootModel[dict[str, LogEntryAnon]]):
    """What LogEntry was served as: its model, written by pydantic."""


_UUIDS = st.text("0123456789abcdef", min_size=80, max_size=80)
_HASH = st.binary(min_size=32, max_size=32)


@settings(max_examples=300, deadline=None)
@given(uuid=_UUIDS, body=st.binary(max_size=300), integrated_time=st.integers(0, 2**53 - 1),
       log_id=_HASH, log_index=st.integers(0, 2**53 - 1),
       # Any text a note could hold: newlines, control characters, quotes, backslashes,
       # non-ASCII (the em dash of signature lines), U+2028; not lone surrogates.
       checkpoint=st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
       hashes=st.lists(_HASH, max_size=64), proof_index=st.integers(0, 2**53 - 1),
       root_hash=_HASH, tree_size=st.integers(0, 2**53 - 1),
       signature=st.binary(min_size=1, max_size=80),
       attestation=st.none() | st.binary(max_size=100))
def test_log_entry_json_is_what_pydantic_writes_for_its_model(
        uuid: str, body: bytes, integrated_time: int, log_id: bytes, log_index: int,
        checkpoint: str, hashes: list[bytes], proof_index: int, root_hash: bytes,
        tree_size: int, signature: bytes, attestation: bytes | None) -> None:
    entry = LogEntry(uuid, body, integrated_time, log_id, log_index, checkpoint, tuple(hashes),
                     proof_index, root_hash, tree_size, signature, attestation)
    want = to_json(_Reference({uuid: entry[uuid]}))
    assert entry.json() == want
    assert to_json_body(entry) == want + b"\n"
    assert to_json_body([entry, entry]) == b"[" + want + b"," + want + b"]\n"
    assert json.loads(want)[uuid]["verification"]["inclusionProof"]["checkpoint"] == checkpoint


def test_log_entry_refuses_a_uuid_that_is_not_80_hex() -> None:
    for bad in ("a" * 79, "A" * 80, "g" * 80, 'a' * 78 + '"}'):
        with pytest.raises(ValueError, match="80 hex"):
            LogEntry(bad, b"", 0, bytes(32), 0, "", (), 0, bytes(32), 0, b"s")
