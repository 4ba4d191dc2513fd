"""RFC 8785 JSON canonicalization (JCS), with a fast path.

The reference implementation is the `rfc8785` package.  For the values rekor-py
canonicalizes (every key ASCII, strings, ints within the IEEE-754 exact range,
bools, null, lists, objects), Python's own encoder with sorted keys, no
whitespace and ensure_ascii=False writes the very same bytes, four times
faster: both escape only '"', '\\' and control characters (lowercase \\u00xx,
or \\b \\f \\n \\r \\t), leave other text as UTF-8, and print integers plainly; and
ASCII keys sort the same by code point as by UTF-16 unit.  Anything else (a
float, a non-ASCII key, a big int) goes to `rfc8785`.  tests/unit/test_jcs.py
checks the two agree on random JSON.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

__all__ = ["dumps"]

_MAX_EXACT_INT = 2**53 - 1
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                           allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True when the fast encoder is known to write RFC 8785 bytes for `value`.

    A loop over exact types first (what json.loads gives: this runs on every
    entry); any other object, a subclass say, gets the isinstance rules of
    _plain_value."""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is dict:
            for key, child in item.items():
                if not (isinstance(key, str) and key.isascii()):
                    return False
                push(child)
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_MAX_EXACT_INT <= item <= _MAX_EXACT_INT:
                return False
        elif not _plain_value(item):
            return False
    return True


def _plain_value(value: Any) -> bool:
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_value(v) for v in value)
    return False


def dumps(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value; raises ValueError for
    values JCS cannot represent (lone surrogates, NaN, ints beyond 2**53)."""
    if _plain(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation say why
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as e:
        raise ValueError(f"cannot canonicalize: {e}") from e
