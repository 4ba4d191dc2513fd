"""Every URL the server answers, in the order of Rekor's OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from rekor_py.api import entries, index, openapi, ops, tiles, tlog, trust

__all__ = ["add_routes", "add_tile_routes"]


def add_routes(app: web.Application) -> None:
    app.router.add_routes([
        web.get("/api/v1/log", tlog.get_log_info),
        web.get("/api/v1/log/publicKey", tlog.get_public_key),
        web.get("/api/v1/log/proof", tlog.get_log_proof),
        # Ours: the active tree's C2SP checkpoint, with witness cosignatures when
        # witnesses are configured, beside Rekor's tree head (same as <tiles>/checkpoint).
        web.get("/api/v1/log/checkpoint", tiles.get_checkpoint),
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
        web.get("/readyz", ops.get_readyz),
        web.get("/metrics", ops.get_metrics),
        # Rekor serves no API document; ours lives under /api/v1 (api/openapi.py).
        web.get("/api/v1/openapi.yaml", openapi.get_openapi_yaml),
        web.get("/api/v1/openapi.json", openapi.get_openapi_json),
        # Ours: the ClientTrustConfig for Sigstore clients (api/trust.py).
        web.get("/api/v1/trustConfig", trust.get_trust_config),
    ])


def add_tile_routes(app: web.Application, prefix: str) -> None:
    """The C2SP tile API (api/tiles.py) under `prefix`: "" or "/path" without a final "/"."""
    if prefix and (not prefix.startswith("/") or prefix.endswith("/") or "{" in prefix):
        raise ValueError(f"tile prefix {prefix!r} must be empty or '/path' without a final '/'")
    app.router.add_routes([
        web.get(f"{prefix}/checkpoint", tiles.get_checkpoint),
        web.get(f"{prefix}/checkpoint.vkeys", tiles.get_vkeys),
        web.get(prefix + "/tile/{path:.+}", tiles.get_tile),
    ])
