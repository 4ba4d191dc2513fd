"""The verification worker's result carries the body's stored form (made off the
event loop) for an entry to insert, and nothing for a search."""

from __future__ import annotations

import json

from rekor_py.log.prepare import prepare_raw
from rekor_py.storage.body_codec import decode_body, encode_body
from tests.integration.logserver import signed_hashedrekord


def test_an_entry_to_insert_comes_with_its_stored_body() -> None:
    raw = json.dumps(signed_hashedrekord(b"stored form")).encode()
    entry = prepare_raw(raw, frozenset({"hashedrekord"}), 0)
    assert entry.stored_body == encode_body(entry.body)
    assert entry.stored_body is not None and decode_body(entry.stored_body) == entry.body


def test_a_search_parse_deflates_nothing() -> None:
    raw = json.dumps(signed_hashedrekord(b"searched")).encode()
    assert prepare_raw(raw, None, 0).stored_body is None
