"""Reading protobuf JSON the way Go's protojson.Unmarshal reads it (Rekor v2 requests).

rekor-tiles decodes its requests with protojson, unknown fields refused
(DiscardUnknown false).  What that means for a message given as a JSON object:

- each field may be spelled by its JSON name (lowerCamelCase) or its proto name
  (snake_case); both spellings of one field in one object are a duplicate, refused;
- a field no message declares is refused;
- `null` leaves a field unset;
- `bytes` are base64, standard or URL-safe alphabet, padded or not;
- an enum is its value's name (protojson also takes the number; we do not, see
  `enum`).

Each reader raises ProtoJSONError (a 400) naming the field's path.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping
from typing import Any

from rekor_py.errors import InvalidRequest

__all__ = ["ProtoJSONError", "b64_bytes", "enum", "message"]

_B64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")


class ProtoJSONError(InvalidRequest):
    """The request is not protobuf JSON of the expected message."""


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def message(value: Any, fields: Collection[str], where: str) -> dict[str, Any]:
    """The set fields of a message given as `value`, by JSON name (`fields`).

    `None` (null, or absent) is the empty message."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ProtoJSONError(f"{where}: expected a JSON object")
    names = {name: name for name in fields} | {_snake(name): name for name in fields}
    found: dict[str, Any] = {}
    for key, item in value.items():
        name = names.get(key)
        if name is None:
            raise ProtoJSONError(f"{where}: unknown field {str(key)[:80]!r}")
        if name in found:
            raise ProtoJSONError(f"{where}: duplicate field {name!r}")
        found[name] = item
    # Only now drop the nulls: a null still counts as a spelling of its field.
    return {name: item for name, item in found.items() if item is not None}


def b64_bytes(value: Any, where: str) -> bytes:
    """A `bytes` field: base64 in either alphabet, with or without padding."""
    if not isinstance(value, str):
        raise ProtoJSONError(f"{where}: expected a base64 string")
    if not _B64.fullmatch(value):
        raise ProtoJSONError(f"{where}: not base64")
    text = value.rstrip("=")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ProtoJSONError(f"{where}: not base64") from None


def enum(value: Any, names: Collection[str], where: str) -> str:
    """An enum field, by name.  protojson also accepts a value's number; numbers are
    refused here, so that what is stored always names its algorithm."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ProtoJSONError(f"{where}: expected the name of a value, e.g. {next(iter(names))!r}")
    if value not in names:
        raise ProtoJSONError(f"{where}: unknown value {value[:80]!r}")
    return value
