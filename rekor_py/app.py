"""create_app: the aiohttp application around an open log."""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.keys import NOTARY, SERVICE, SETTINGS
from rekor_py.api.problems import error_middleware
from rekor_py.api.routes import add_routes, add_tile_routes
from rekor_py.api.tiles import TILE_CACHE, ImmutableCache
from rekor_py.config import Settings
from rekor_py.log.c2sp import (
    CheckpointNotary,
    NoteSigner,
    c2sp_origin,
    load_or_create_note_key,
)
from rekor_py.log.service import LogService

__all__ = ["create_app"]


def create_app(settings: Settings, service: LogService) -> web.Application:
    # client_max_size makes aiohttp refuse larger bodies with 413 before parsing.
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[SERVICE] = service
    add_routes(app)
    app[NOTARY] = tile_notary(settings, service)
    app[TILE_CACHE] = ImmutableCache()
    add_tile_routes(app, settings.tile_prefix)
    return app


def tile_notary(settings: Settings, service: LogService) -> CheckpointNotary:
    """The C2SP checkpoint signers: the log key (if it has a signed-note type), then
    the Ed25519 note key (Settings.note_key_path, created on first start)."""
    origin = c2sp_origin(settings.checkpoint_name, settings.tile_prefix)
    if settings.note_key is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    note_key = load_or_create_note_key(settings.note_key_path)
    log_key = NoteSigner.for_log_key(origin, service.signer)
    signers = [s for s in (log_key, NoteSigner.ed25519(origin, note_key)) if s is not None]
    return CheckpointNotary(origin, signers)
