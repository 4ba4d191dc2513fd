"""Request models: go-openapi's status and wording for each schema fault (api/models.py)."""

from __future__ import annotations

from typing import Any

import pytest

from rekor_py.api.models import SearchIndex, SearchLogQuery, parse_request
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
