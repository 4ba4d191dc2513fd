"""JSON decoding held to limits.max_json_number_chars and limits.max_json_depth.

CPython's json turns a number into an int before anyone can look at it, and
refuses ints over 4,300 digits with a bare ValueError (a 500 where it was not
expected); nesting deeper than the interpreter's recursion limit is a
RecursionError.  Here every number is measured as text before it is
converted, nesting is measured on the decoded value (iteratively), and both
refusals are a JSONLimitError whose message names the limit.  No Rekor entry
needs more than a few levels or a 20-digit number, so an honest client
never meets either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rekor_py import limits

__all__ = ["JSONLimitError", "check_depth", "loads"]


class JSONLimitError(ValueError):
    """JSON text beyond one of the limits; str(e) names it and is client-safe."""


def _number(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        limit = limits.current().max_json_number_chars
        if len(text) > limit:
            raise JSONLimitError(limits.limit_error_message(
                "max_json_number_chars", len(text), limit, "the length of a JSON number in characters"))
        return convert(text)
    return parse


_PARSE_INT = _number(int)
_PARSE_FLOAT = _number(float)


# json.loads builds a JSONDecoder per call when given hooks; one per set of
# keywords serves every call (a decoder holds no state between calls).  The
# keywords are the callers' constant hooks, so this stays a handful.
_DECODERS: dict[tuple[tuple[str, Any], ...], json.JSONDecoder] = {}


def _decoder(kwargs: dict[str, Any]) -> json.JSONDecoder:
    key = tuple(sorted(kwargs.items()))
    found = _DECODERS.get(key)
    if found is None:
        found = _DECODERS[key] = json.JSONDecoder(parse_int=_PARSE_INT, parse_float=_PARSE_FLOAT,
                                                  **kwargs)
    return found


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """json.loads with the number and depth limits; raises JSONLimitError, or json's own errors."""
    try:
        value = _decoder(kwargs).decode(_as_text(text))
    except RecursionError:
        limit = limits.current().max_json_depth
        raise JSONLimitError(limits.limit_error_message(
            "max_json_depth", limit + 1, limit, "the nesting depth of the JSON text (at least)")) from None
    if isinstance(value, (list, dict)):
        check_depth(value, text)
    return value


def _as_text(text: str | bytes) -> str:
    """What json.loads does to its argument before decoding (same errors)."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        return text
    return text.decode(json.detect_encoding(text), "surrogatepass")


def check_depth(value: Any, text: str | bytes | None = None) -> None:
    """Raise JSONLimitError if `value` nests arrays/objects deeper than max_json_depth.

    With the `text` it came from: text with fewer brackets than the limit
    cannot nest deeper, which spares most entries the walk.
    """
    limit = limits.current().max_json_depth
    if text is not None:
        opening = ("[", "{") if isinstance(text, str) else (b"[", b"{")
        if text.count(opening[0]) + text.count(opening[1]) <= limit:  # type: ignore[arg-type]
            return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise JSONLimitError(limits.limit_error_message(
                "max_json_depth", depth, limit, "the nesting depth of the JSON text"))
        for child in item.values() if isinstance(item, dict) else item:
            if type(child) is tuple:  # an (key, value) pair of an object_pairs_hook list
                child = child[1]
            if isinstance(child, (list, dict)):
                stack.append((child, depth + 1))
