"""storage/search_keys.py: the stored form of a search key is fixed forever."""

from __future__ import annotations

import hashlib
import uuid

from hypothesis import given
from hypothesis import strategies as st

from rekor_py.storage.search_keys import key_hash, key_hashes


def test_stored_form_is_pinned() -> None:
    """Rows hold these hashes: changing the function would lose every search."""
    assert key_hash("a@example.com") == uuid.UUID("{}".format(
        hashlib.sha256(b"a@example.com").hexdigest()[:32]))
    assert str(key_hash("sha256:" + "ab" * 32)) == "7b28e61b-c1d2-9223-4192-478f2c9d3b56"


def test_an_entry_without_keys_stores_none() -> None:
    assert key_hashes([]) is None
    assert key_hashes(["b", "a", "b"]) == sorted({key_hash("a"), key_hash("b")})


def test_a_lone_surrogate_hashes_and_matches_no_storable_key() -> None:
    assert key_hash("\ud800") != key_hash("")


@given(st.text(), st.text())
def test_distinct_keys_distinct_hashes(a: str, b: str) -> None:
    assert (key_hash(a) == key_hash(b)) == (a == b)
