"""Decode JSON into typed shapes the way Go's encoding/json (json.Unmarshal) does.

Rekor's DSSE-based kinds unmarshal client text (a DSSE envelope, an in-toto
statement) into Go structs, and whether that succeeds, and what it yields,
decides acceptance and index keys. Python's json module differs from Go in
ways that matter here, so this module reproduces Go's rules:

- object keys match struct fields case-insensitively; unknown keys are ignored;
- a repeated key decodes again into the value the earlier one left (the last
  string wins; a repeated object merges into the existing map or struct, in
  place, so repeats cost what they say and not what came before; a repeated
  array reuses the existing elements and is cut to its new length);
- `null` leaves strings, bools and structs alone and clears slices, maps,
  pointers and interfaces;
- a value of the wrong JSON type is an error, but decoding goes on and the
  first such error is the one reported (Go's saveError);
- NaN/Infinity literals are syntax errors; lone UTF-16 surrogates become U+FFFD.

Leaves to callers what the decoded values mean. Not covered, on purpose:
Go's 10,000 nesting limit (limits.max_json_depth is far lower, and so is
limits.max_json_number_chars than Go's unbounded number text: see
json_limits), and float64 overflow inside `interface{}` values.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from typing import Any

from rekor_py import json_limits

__all__ = [
    "ANY",
    "BOOL",
    "RAW",
    "STRING",
    "TIME",
    "GoJSONError",
    "ListOf",
    "MapOf",
    "Pairs",
    "Shape",
    "Struct",
    "go_string",
    "loads",
    "unmarshal",
]


class GoJSONError(ValueError):
    """The text is not JSON, or a value has the wrong type; str(e) is Go-like and client-safe."""


class Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


@dataclass(frozen=True)
class _Scalar:
    go_type: str


STRING = _Scalar("string")
BOOL = _Scalar("bool")
TIME = _Scalar("time.Time")  # *time.Time: a quoted RFC 3339 timestamp
ANY = _Scalar("interface {}")
RAW = _Scalar("json.RawMessage")  # kept as the parsed value, wrapped in a 1-tuple


@dataclass(frozen=True)
class ListOf:
    item: Shape
    go_type: str


@dataclass(frozen=True)
class MapOf:
    """map[string]<value>; the only map key type these shapes need."""

    value: Shape
    go_type: str


@dataclass(frozen=True)
class Struct:
    go_type: str  # e.g. "dsse.Envelope"; the part after the dot names the struct in errors
    fields: tuple[tuple[str, Shape], ...]
    pointer: bool = False

    def field_for(self, key: str) -> tuple[str, Shape] | None:
        # Go prefers an exact match, else a case-insensitive one.
        for name, shape in self.fields:
            if name == key:
                return name, shape
        folded = key.casefold()
        for name, shape in self.fields:
            if name.casefold() == folded:
                return name, shape
        return None


Shape = _Scalar | ListOf | MapOf | Struct

_SURROGATE = re.compile("[\ud800-\udfff]")


def go_string(text: str) -> str:
    """`text` as Go holds it: lone surrogates (from \\ud800-style escapes) become U+FFFD."""
    if text.isascii():  # O(1) in CPython: ASCII text holds no surrogate to scan for
        return text
    return _SURROGATE.sub("\ufffd", text)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def loads(text: str) -> Any:
    """Parse JSON text with objects as Pairs; raises GoJSONError on a syntax error."""
    try:
        return json_limits.loads(text, object_pairs_hook=Pairs, parse_constant=_reject_constant)
    except json_limits.JSONLimitError as e:
        raise GoJSONError(str(e)) from None
    except json.JSONDecodeError as e:
        # Python names the string an unterminated one starts at; Go just runs out of input.
        if e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
            raise GoJSONError("unexpected end of JSON input") from e
        raise GoJSONError(f"invalid character {_go_char(text[e.pos])} at offset {e.pos + 1}") from e
    except (ValueError, RecursionError) as e:
        raise GoJSONError("invalid JSON") from e


def _go_char(c: str) -> str:
    return "'\\''" if c == "'" else f"'{c}'" if c.isprintable() else f"U+{ord(c):04X}"


@dataclass
class _Errors:
    first: str | None = None

    def save(self, message: str) -> None:
        if self.first is None:
            self.first = message


def unmarshal(shape: Shape, value: Any) -> tuple[Any, str | None]:
    """Decode a `loads` result into `shape`: (Go value, first type error or None).

    Go values: a struct is a dict of every field (zero values filled in), a nil
    pointer/slice/map is None, strings are Go strings (see `go_string`).
    """
    errors = _Errors()
    result = _decode(shape, value, _zero(shape), errors, (), None)
    return result, errors.first


def _zero(shape: Shape) -> Any:
    if shape is STRING:
        return ""
    if shape is BOOL:
        return False
    if isinstance(shape, Struct) and not shape.pointer:
        return {name: _zero(s) for name, s in shape.fields}
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Pairs):
        return "object"
    return "array"


def _decode(shape: Shape, value: Any, existing: Any, errors: _Errors, path: tuple[str, ...], owner: str | None) -> Any:
    """Decode `value` into `existing` (Go decodes into the value already there)."""
    if value is None:
        if shape in (STRING, BOOL) or (isinstance(shape, Struct) and not shape.pointer):
            return existing
        if shape is RAW:
            return (None,)
        return None
    if shape is ANY:
        return value
    if shape is RAW:
        return (value,)
    ok = _type_matches(shape, value)
    if not ok:
        _type_error(shape, value, errors, path, owner)
        return existing
    if shape is STRING:
        return go_string(value)
    if shape is BOOL:
        return value
    if shape is TIME:
        if not _is_rfc3339(value):
            errors.save(f"parsing time {json.dumps(value)} as RFC 3339")
            return existing
        return value
    if isinstance(shape, ListOf):
        old = existing if isinstance(existing, list) else []
        out: list[Any] = []
        for i, item in enumerate(value):
            prior = old[i] if i < len(old) else _zero(shape.item)
            out.append(_decode(shape.item, item, prior, errors, path, owner))
        return out
    # Maps and structs are decoded into in place, as Go does: `existing` is
    # always a value this decoder made, and copying it for every repeated key
    # made N repeats of a key over a large earlier value cost N times its size.
    if isinstance(shape, MapOf):
        out_map: dict[str, Any] = existing if isinstance(existing, dict) else {}
        for key, item in value:
            # Go decodes each map element into a fresh zero value, then stores it.
            out_map[go_string(key)] = _decode(shape.value, item, _zero(shape.value), errors, path, owner)
        return out_map
    assert isinstance(shape, Struct)
    out_struct: dict[str, Any] = existing if isinstance(existing, dict) else _zero_struct(shape)
    name = shape.go_type.rsplit(".", 1)[-1]
    for key, item in value:
        found = shape.field_for(key)
        if found is None:
            continue
        field_name, field_shape = found
        out_struct[field_name] = _decode(field_shape, item, out_struct[field_name], errors, path + (field_name,), name)
    return out_struct


def _zero_struct(shape: Struct) -> dict[str, Any]:
    return {name: _zero(s) for name, s in shape.fields}


def _type_matches(shape: Shape, value: Any) -> bool:
    if shape is STRING or shape is TIME:
        return isinstance(value, str)
    if shape is BOOL:
        return isinstance(value, bool)
    if isinstance(shape, (MapOf, Struct)):
        return isinstance(value, Pairs)
    if isinstance(shape, ListOf):
        return isinstance(value, list) and not isinstance(value, Pairs)
    return True


def _type_error(shape: Shape, value: Any, errors: _Errors, path: tuple[str, ...], owner: str | None) -> None:
    go_type = shape.go_type
    if isinstance(shape, Struct) and shape.pointer:
        go_type = "*" + go_type
    if shape is TIME:
        errors.save("Time.UnmarshalJSON: input is not a JSON string")
    elif owner is None or not path:
        errors.save(f"json: cannot unmarshal {_json_kind(value)} into Go value of type {go_type}")
    else:
        errors.save(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                    f"{owner}.{'.'.join(path)} of type {go_type}")


# Go's strict RFC 3339 parser (time.Time.UnmarshalJSON since Go 1.20).
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))")


def _is_rfc3339(text: str) -> bool:
    m = _RFC3339.fullmatch(text)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    # A numeric offset's hours and minutes must be in range.
    return m.group(9) is None or (int(m.group(9)) <= 23 and int(m.group(10)) <= 59)

