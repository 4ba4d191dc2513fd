"""Path, query and body parsing for the handlers: every bad value becomes a 4xx.

One place turns request text into typed values, so a stray int() can never
turn a typo into a 500.  Rekor answers schema violations with 422 (go-swagger
validation) and semantic ones with 400; the helpers follow that split.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from rekor_py import json_limits
from rekor_py.errors import InvalidRequest, UnprocessableEntity

__all__ = ["query_int", "read_json"]

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def query_int(request: web.Request, name: str, *, default: int | None = None,
              minimum: int = 0) -> int:
    """A decimal query parameter >= minimum; 422 when missing or malformed."""
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise UnprocessableEntity(f"{name} in query is required")
        return default
    if not _DECIMAL.fullmatch(raw):
        raise UnprocessableEntity(f"{name} in query must be of type int64: {raw[:40]!r}")
    value = int(raw)
    if value < minimum:
        raise UnprocessableEntity(f"{name} in query should be greater than or equal to {minimum}")
    return value


def require_json_content_type(request: web.Request) -> None:
    """Rekor consumes only application/json; anything else (or none) is 415."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            reason=f"unsupported media type {request.content_type!r}; use application/json")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (size-capped by the app); malformed JSON is 400."""
    require_json_content_type(request)
    raw = await request.read()
    if not raw.strip():
        raise UnprocessableEntity("request body is required")
    try:
        return json_limits.loads(raw)
    except json_limits.JSONLimitError as e:
        raise InvalidRequest(f"malformed JSON: {e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidRequest(f"malformed JSON: {e}") from None
