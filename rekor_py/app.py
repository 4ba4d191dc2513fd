"""create_app: the aiohttp application around an open log."""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.keys import SERVICE, SETTINGS
from rekor_py.api.problems import error_middleware
from rekor_py.api.routes import add_routes
from rekor_py.config import Settings
from rekor_py.log.service import LogService

__all__ = ["create_app"]


def create_app(settings: Settings, service: LogService) -> web.Application:
    # client_max_size makes aiohttp refuse larger bodies with 413 before parsing.
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[SERVICE] = service
    add_routes(app)
    return app
