"""Every URL the server answers, in the order of Rekor's OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from rekor_py.api import entries, index, tlog

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.get("/api/v1/log", tlog.get_log_info),
        web.get("/api/v1/log/publicKey", tlog.get_public_key),
        web.get("/api/v1/log/proof", tlog.get_log_proof),
        web.post("/api/v1/log/entries", entries.create_entry),
        web.get("/api/v1/log/entries", entries.get_entry_by_index),
        web.get("/api/v1/log/entries/{entry_uuid}", entries.get_entry_by_uuid),
        web.post("/api/v1/log/entries/retrieve", entries.search_log_query),
        # sigstore-python posts here with a trailing slash; a redirect would turn
        # its POST into a GET, so the route is served as is.
        web.post("/api/v1/log/entries/retrieve/", entries.search_log_query),
        web.post("/api/v1/index/retrieve", index.search_index),
        web.get("/ping", tlog.ping),
        web.get("/healthz", tlog.health),
    ])
