"""Logs for operators: a request ID in every line, and `--log-format json`.

Each request gets an ID (a sane incoming X-Request-ID, else a fresh one), echoed
in the response's X-Request-ID and kept in a context variable, so every log
line written while handling the request carries it.  In JSON mode each line
is one JSON object (time, level, logger, message, request_id, and the access
fields of the access line that ends each request).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from rekor_py.api.problems import ERROR_KIND
from rekor_py.observability import metrics

__all__ = ["REQUEST_ID", "configure_logging", "observe_requests"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                       default=None)
TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("rekor_py.access")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    _FIELDS = ("method", "path", "status", "duration_ms", "remote")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                    + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage(), "pid": record.process,
        }
        if getattr(record, "request_id", None):
            out["request_id"] = record.request_id  # type: ignore[attr-defined]
        for name in self._FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _only_upgrades(record: logging.LogRecord) -> bool:
    return record.levelno > logging.INFO or record.getMessage().startswith("Running upgrade")


def configure_logging(log_format: str = "text") -> None:
    """Root logging for a server process: text (the default) or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Alembic's chatter (plugins, "Context impl ...") is not news; "Running upgrade
    # 0003 -> 0004" is, once per migration applied.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_upgrades)
    # The access line is for JSON pipelines; text logs keep their one line per problem.
    access_log.disabled = log_format != "json"


@web.middleware
async def observe_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The request ID, the request's metrics, and (JSON logs) its access line."""
    given = request.headers.get("X-Request-ID")
    # 32 random hex digits, as a uuid4's hex but a fifth of its cost.
    rid = given if given and _SANE_ID.fullmatch(given) else os.urandom(16).hex()
    token = REQUEST_ID.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = rid
        return response
    except web.HTTPException as e:
        status = e.status
        e.headers["X-Request-ID"] = rid
        raise
    finally:
        elapsed = time.perf_counter() - started
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.observe_request(route, request.method, status, elapsed)
        if status >= 400:
            metrics.REJECTIONS.labels(str(status), request.get(ERROR_KIND, "http")).inc()
        if not access_log.disabled:
            access_log.info("%s %s %d", request.method, route, status,
                            extra={"method": request.method, "path": request.path[:200],
                                   "status": status, "duration_ms": round(elapsed * 1000, 2),
                                   "remote": request.remote})
        REQUEST_ID.reset(token)
