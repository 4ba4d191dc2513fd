"""The verification worker's result carries the body's stored form (made off the
event loop) for an entry to insert, and nothing for a search."""

from __future__ import annotations

import dataclasses
import json
import pickle

from rekor_py.log.prepare import prepare_raw
from rekor_py.log.prepared import PreparedEntry
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


def test_the_result_crosses_the_process_boundary_whole() -> None:
    # Workers send PreparedEntry back by pickle through its own __reduce__: a field
    # it forgets would arrive as the default.
    raw = json.dumps(signed_hashedrekord(b"crosses")).encode()
    entry = dataclasses.replace(prepare_raw(raw, frozenset({"hashedrekord"}), 0),
                                attestation=b"att")
    copy = pickle.loads(pickle.dumps(entry))
    assert copy == entry
    assert [getattr(copy, f.name) for f in dataclasses.fields(PreparedEntry)] == [
        getattr(entry, f.name) for f in dataclasses.fields(PreparedEntry)]
    assert all(getattr(entry, f.name) != f.default for f in dataclasses.fields(PreparedEntry)
               if f.default is not dataclasses.MISSING), "a field left at its default proves nothing"
