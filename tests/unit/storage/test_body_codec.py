"""storage/body_codec.py: every body round-trips byte for byte, the stored forms
stay readable, and damaged rows are refused rather than misread."""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rekor_py.errors import StorageError
from rekor_py.storage import body_codec
from rekor_py.storage.body_codec import ZLIB_DICT_1, decode_body, encode_body
from tests.integration.synthetic_log import synthetic_body

# A canonical hashedrekord body and its stored form as written by the first version
# of the codec: rows written then must read the same forever.
_BODY = (b'{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":'
         b'"sha256","value":"' + b"ab" * 32 + b'"}}}}')
_STORED = bytes.fromhex("01a3bdaf1393288360670200")

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


def test_dictionary_is_frozen() -> None:
    """Rows written with format 0x01 need these exact dictionary bytes to inflate."""
    assert hashlib.sha256(body_codec._DICTIONARY_1).hexdigest() == (
        "69b102b28dd5cc7297b5153a99dd749c8e377e96f39ae777bd1a27fc353de995")


def test_a_stored_row_of_format_1_still_reads() -> None:
    assert decode_body(_STORED) == _BODY
    assert encode_body(_BODY) == _STORED


def test_synthetic_bodies_shrink_by_half() -> None:
    bodies = [synthetic_body(i) for i in range(50)]
    stored = [encode_body(b) for b in bodies]
    assert all(s[0] == ZLIB_DICT_1 for s in stored)
    assert sum(map(len, stored)) < 0.55 * sum(map(len, bodies))
    assert [decode_body(s) for s in stored] == bodies


def test_old_rows_read_as_they_are() -> None:
    """Rows written before the codec hold the canonical JSON itself."""
    body = synthetic_body(1)
    assert decode_body(body) is body


def test_a_body_deflate_cannot_shorten_is_stored_as_is() -> None:
    assert encode_body(b"{}") == b"{}"


@given(st.binary(max_size=2000))
@settings(max_examples=300)
def test_any_bytes_round_trip(body: bytes) -> None:
    stored = encode_body(body)
    assert decode_body(stored) == body
    # The stored form never claims to be raw JSON unless it is the body itself.
    assert stored[:1] != b"{" or stored == body


@given(_json)
@settings(max_examples=300)
def test_json_objects_round_trip(value: object) -> None:
    body = json.dumps({"kind": "x", "v": value}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False).encode()
    assert decode_body(encode_body(body)) == body


@given(st.integers(0, 10**9), st.text(max_size=30))
def test_synthetic_bodies_round_trip(n: int, tag: str) -> None:
    body = synthetic_body(n, tag=tag)
    assert decode_body(encode_body(body)) == body


@pytest.mark.parametrize("stored, why", [
    (b"", "unknown format"),
    (b"\x02" + _STORED[1:], "unknown format"),
    (b"[1]", "unknown format"),
    (_STORED[:-3], "truncated"),
    (_STORED + b"\x00", "trailing"),
    (b"\x01\xff\xff", "does not inflate"),
])
def test_damaged_rows_are_refused(stored: bytes, why: str) -> None:
    with pytest.raises(StorageError, match=why):
        decode_body(stored)


def test_inflating_a_corrupt_row_is_bounded() -> None:
    """A row that would inflate past any body's size is refused, not inflated."""
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=body_codec._DICTIONARY_1)
    stored = bytes((ZLIB_DICT_1,)) + bomb.compress(b"{" + b"a" * (2 << 20)) + bomb.flush()
    with pytest.raises(StorageError, match="truncated"):
        decode_body(stored)
