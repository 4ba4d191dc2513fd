"""The one error middleware: exceptions become Rekor's `{"code", "message"}` bodies.

Client faults (RekorError 4xx, aiohttp's own 404/405/413) are logged at warning
with their message; anything else is a 500 with a generic message and a logged
traceback, so no stack trace or SQL ever reaches a client.  A database that
cannot be reached (storage.db.is_unavailable) is a 503 with Retry-After.  Entry lookups that
miss answer 404 with an empty body, as Rekor does
(docs/rekor-compat.md#trap-404-409).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from rekor_py.api.models import Error, to_json_body
from rekor_py.errors import (
    ConflictError,
    DatabaseUnavailable,
    EntryNotFound,
    LogIndexConflict,
    PayloadTooLarge,
    RekorError,
)
from rekor_py.logsafe import clip
from rekor_py.storage.db import is_unavailable

__all__ = ["body_too_large", "error_middleware", "json_body_response", "json_response"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """JSON the way Rekor's Go encoder writes it: compact, no HTML escaping, final newline.

    `data`: an API model (api/models.py), a list of them, or plain JSON values."""
    return json_body_response(to_json_body(data), status=status, headers=headers)


def json_body_response(body: bytes, *, status: int = 200,
                       headers: dict[str, str] | None = None) -> web.Response:
    """json_response for a body already written as JSON, final newline included."""
    return web.Response(body=body, status=status, content_type="application/json",
                        charset="utf-8", headers=headers)


def _error_body(status: int, message: str, headers: dict[str, str] | None = None
                ) -> web.Response:
    return json_response(Error(code=status, message=message), status=status, headers=headers)


def rekor_error_response(error: RekorError) -> web.Response:
    if isinstance(error, EntryNotFound):
        return web.Response(status=404)
    headers: dict[str, str] = {}
    if isinstance(error, ConflictError):
        headers["Location"] = error.location
    if isinstance(error, LogIndexConflict):
        headers["x-log-index"] = str(error.log_index)
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    # Our own faults keep their detail in the log: the client gets the fixed message.
    message = error.client_message if error.status < 500 else error.message
    return _error_body(error.status, message, headers)


def body_too_large(limit: int, found: int | None = None) -> web.Response:
    """413 naming the limit and the setting that sets it."""
    size = f" (the body is {found} bytes)" if found is not None else ""
    return _error_body(413, f"{PayloadTooLarge.message}. Limit set to {limit}{size} "
                            f"(setting max_body_bytes, REKOR_PY_MAX_BODY_BYTES)")


# The kind of error a request ended with (a RekorError's class name), for metrics.
ERROR_KIND = web.RequestKey("rekor_error_kind", str)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RekorError as e:
        request[ERROR_KIND] = type(e).__name__  # the reason metrics count refusals by
        # A 503 with Retry-After (busy, overloaded) is expected under load: no trace.
        ours = e.status >= 500 and e.retry_after is None
        level = logging.ERROR if ours else logging.WARNING
        # Client text (path, messages quoting the entry) is clipped and escaped:
        # a megabyte or a newline from a client never reaches the log raw.
        log.log(level, "%s %s -> %d %s", request.method, clip(request.path), e.status,
                clip(e.client_message), exc_info=ours)
        return rekor_error_response(e)
    except web.HTTPRequestEntityTooLarge:
        log.warning("%s %s -> 413 body over %d bytes", request.method, clip(request.path),
                    request.app._client_max_size)
        return body_too_large(request.app._client_max_size)  # what aiohttp enforced
    except web.HTTPNotFound:
        return _error_body(404, f"path {request.path} was not found")
    except web.HTTPMethodNotAllowed as e:
        return _error_body(405, f"method {request.method} is not allowed",
                           {"Allow": ", ".join(sorted(e.allowed_methods))})
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _error_body(e.status, e.reason)
    except Exception as e:
        if is_unavailable(e):
            # Expected while PostgreSQL restarts: one line, not a traceback a request.
            log.warning("%s %s -> 503 database unavailable: %s", request.method,
                        clip(request.path), type(e).__name__)
            return rekor_error_response(DatabaseUnavailable())
        log.exception("unhandled error in %s %s", request.method, clip(request.path))
        return _error_body(500, "internal server error")
