"""Hypothesis strategies that damage valid input a little: the inputs that reach deep.

Random bytes stop at a parser's first check; a real key, signature, checkpoint
or entry with one byte changed gets through framing and base64 and into the
ASN.1, the packet parser or the signature check.  These strategies take real
seeds and apply a few edits, and they see through the encodings the wire uses:
a base64 string is decoded, its bytes damaged, then re-encoded (so a
base64-in-base64 PEM key is damaged inside its DER), and a JSON tree gets
fields replaced, dropped, added or retyped.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

__all__ = ["json_values", "mutated_bytes", "mutated_json", "mutated_text"]

# Any JSON value (what json.loads can return), kept small.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

_INTERESTING = [b"\x00", b"\xff", b"\x80", b"\x7f", b"-----", b"\n", b"=", b"\r\n", b"\x30\x82\xff\xff",
                b"\x02\x01\x00", b"\x05\x00", b"\xc0", b" ", b"+", b"\xe2\x80\x94"]
_PEM_BODY = re.compile(rb"(-----BEGIN [^-]+-----\r?\n)([A-Za-z0-9+/=\r\n]+)(-----END [^-]+-----)")


@st.composite
def _edit(draw: st.DrawFn, data: bytes) -> bytes:
    """One edit: flip a bit, set, insert or delete bytes, truncate, or splice a known token."""
    buf = bytearray(data)
    op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "token", "dup"]))
    at = draw(st.integers(0, len(buf))) if buf else 0
    if op == "flip" and buf:
        i = min(at, len(buf) - 1)
        buf[i] ^= 1 << draw(st.integers(0, 7))
    elif op == "set" and buf:
        buf[min(at, len(buf) - 1)] = draw(st.integers(0, 255))
    elif op == "insert":
        buf[at:at] = draw(st.binary(min_size=1, max_size=8))
    elif op == "delete" and buf:
        del buf[at:at + draw(st.integers(1, 16))]
    elif op == "truncate":
        del buf[at:]
    elif op == "token":
        buf[at:at] = draw(st.sampled_from(_INTERESTING))
    elif op == "dup" and buf:
        buf[at:at] = buf[at:at + draw(st.integers(1, 64))]
    return bytes(buf)


@st.composite
def _edits(draw: st.DrawFn, data: bytes, max_edits: int = 3) -> bytes:
    for _ in range(draw(st.integers(1, max_edits))):
        data = draw(_edit(data))
    return data


def _pem_inside(data: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    """(before, DER, after-armor-start, rest) split of the first PEM block, or None."""
    m = _PEM_BODY.search(data)
    if not m:
        return None
    try:
        der = base64.b64decode(m[2])
    except (binascii.Error, ValueError):
        return None
    return data[:m.end(1)], der, m[3], data[m.end(3):]


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A seed with a few edits: to the raw bytes, or inside the DER of its first PEM block."""
    seed = draw(st.sampled_from(list(seeds)))
    pem = _pem_inside(seed)
    if pem is not None and draw(st.booleans()):
        head, der, end, rest = pem
        body = base64.encodebytes(draw(_edits(der))) if der else b""
        return head + body + end + rest
    return draw(_edits(seed))


@st.composite
def mutated_text(draw: st.DrawFn, seeds: Sequence[str]) -> str:
    """A text seed with a few edits; bytes that no longer decode as UTF-8 are replaced."""
    raw = draw(mutated_bytes([s.encode() for s in seeds]))
    return raw.decode("utf-8", errors="replace")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


@st.composite
def _mutated_string(draw: st.DrawFn, value: str) -> str:
    """Damage a string; a base64 one is damaged in its decoded bytes and re-encoded."""
    try:
        decoded = base64.b64decode(value, validate=True) if value else None
    except (binascii.Error, ValueError):
        decoded = None
    if decoded is not None and draw(st.booleans()):
        return base64.b64encode(draw(mutated_bytes([decoded]))).decode()
    return draw(mutated_text([value])) if value else draw(st.text(max_size=20))


@st.composite
def mutated_json(draw: st.DrawFn, seeds: Sequence[Any]) -> Any:
    """A deep copy of a seed with 1-3 changes: a value replaced, retyped, dropped or added."""
    doc = copy.deepcopy(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            if draw(st.integers(0, 9)) == 0:
                doc = draw(json_values)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        old = parent[key]
        op = draw(st.sampled_from(["replace", "drop", "add", "string"]))
        if op == "string" and isinstance(old, str):
            parent[key] = draw(_mutated_string(old))
        elif op == "drop":
            del parent[key]
        elif op == "add" and isinstance(old, dict):
            old[draw(st.text(max_size=12))] = draw(json_values)
        else:
            parent[key] = draw(json_values)
    return doc
