"""create_app: the aiohttp application around an open log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, cast

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from rekor_py import limits
from rekor_py.api import v2 as v2_api
from rekor_py.api.keys import (
    NOTARY,
    PUBLISHER,
    PUBLISHERS,
    SERVICE,
    SETTINGS,
    V2_LOG,
    VERIFIER,
)
from rekor_py.api.problems import body_too_large, error_middleware, json_response
from rekor_py.api.routes import add_routes, add_tile_routes
from rekor_py.api.tiles import TILE_CACHE, ImmutableCache
from rekor_py.api.timestamp import add_timestamp_routes
from rekor_py.config import Settings
from rekor_py.explorer import add_explorer_routes
from rekor_py.keys import open_note_key, open_uri_key, uri_of
from rekor_py.log.c2sp import (
    CheckpointNotary,
    NoteSigner,
    TreeNotaries,
    c2sp_origin,
    shard_c2sp_origin,
)
from rekor_py.log.service import LogService
from rekor_py.log.tile_warmup import start_warming
from rekor_py.log.v2_log import V2Log
from rekor_py.log.verify_pool import make_pool
from rekor_py.logsafe import clip
from rekor_py.observability.logs import observe_requests
from rekor_py.storage.log_store import TreeRow
from rekor_py.tsa import TimestampAuthority
from rekor_py.tsa.authority import DEFAULT_CHAIN_FILE, DEFAULT_KEY_FILE
from rekor_py.witness.policy import parse_policy
from rekor_py.witness.publisher import Publisher

__all__ = ["BODY_TIMEOUT_MESSAGE", "HANDLER_TIMEOUT_MESSAGE", "body_deadline", "body_limit",
           "create_app", "request_bounds"]

log = logging.getLogger(__name__)

BODY_TIMEOUT_MESSAGE = "the request body did not arrive within the server's timeout"
HANDLER_TIMEOUT_MESSAGE = "the log did not answer within the server's timeout; retry later"


def body_limit(max_bytes: int) -> Middleware:
    """Middleware: 413 from Content-Length before a byte of the body is read.

    aiohttp itself (client_max_size) checks only while reading, which covers
    chunked bodies; a declared length over the limit is never buffered.  (aiohttp
    then discards what the client still sends, for at most its lingering time:
    closing at once would reset the connection before the client reads the 413.)"""
    return request_bounds(max_bytes, 0)


def body_deadline(timeout_s: float) -> Middleware:
    """Middleware: read the whole body within `timeout_s`, else answer 408 and close;
    then answer within `timeout_s` more, else 504.

    aiohttp's server has no body read timeout: a handler awaiting request.read()
    waits as long as the client keeps the connection open.  Reading the body here
    (aiohttp keeps it for the handler's own read) bounds that wait before any
    handler or the sequencer sees the request.  413 for an oversized body still
    comes from aiohttp's read, turned into Rekor's body by error_middleware.
    """
    return request_bounds(None, timeout_s)


def request_bounds(max_bytes: int | None, timeout_s: float) -> Middleware:
    """body_limit(max_bytes) (None: none) and body_deadline(timeout_s) (0: none) in
    one middleware: each layer of the chain costs a few microseconds a request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if max_bytes is not None:
            declared = request.content_length
            if declared is not None and declared > max_bytes:
                return body_too_large(max_bytes, declared)
        if timeout_s <= 0:
            return await handler(request)
        if request.body_exists and request.content.is_eof():
            await request.read()  # all of it arrived with the headers: nothing to wait for
        elif request.body_exists:
            try:
                async with asyncio.timeout(timeout_s):
                    await request.read()
            except TimeoutError:
                log.warning("%s %s -> 408 body not received in %.1f s from %s",
                            request.method, clip(request.path), timeout_s, request.remote)
                response = json_response({"code": 408, "message": BODY_TIMEOUT_MESSAGE},
                                         status=408)
                # Write the answer, then drop the connection: aiohttp would otherwise
                # linger, reading the rest of the slow body for another 10 s.
                await response.prepare(request)
                await response.write_eof()
                request.protocol.force_close()
                return response
        # The answer too has a deadline: a database that hangs (rather than fails)
        # must not hold requests forever.  The handler runs as its own task, and
        # the 504 does not wait for it to unwind: cancelling a query on a hung
        # database waits for that database (a ROLLBACK), so it is cancelled and
        # left to finish in the background.  A write cut off here may still
        # commit: its client retries and gets 201 or 409, never a false
        # acknowledgement.  Rekor answers 504 when its backend deadline passes.
        return await _answer_within(request, handler, timeout_s)

    return middleware


async def _answer_within(request: web.Request, handler: Handler, timeout_s: float
                         ) -> web.StreamResponse:
    """The handler's answer, or a 504 after `timeout_s` without waiting for it.

    One task, one waiter and one timer: what asyncio.wait_for(shield(task))
    does, without the second future and the callbacks of each (about 8 us of
    the event loop's CPU per request, measured on the server's middleware chain)."""
    loop = asyncio.get_running_loop()
    # aiohttp's handlers are coroutines (Handler only says awaitable).
    task: asyncio.Task[web.StreamResponse] = loop.create_task(
        cast(Coroutine[Any, Any, web.StreamResponse], handler(request)))
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = loop.call_later(timeout_s, wake)
    task.add_done_callback(wake)
    try:
        await waiter
    except asyncio.CancelledError:
        timer.cancel()
        task.remove_done_callback(wake)
        _abandon(task)  # the client went away
        raise
    timer.cancel()
    if task.done():
        return task.result()
    task.remove_done_callback(wake)
    log.warning("%s %s -> 504 no answer within %.1f s", request.method,
                clip(request.path), timeout_s)
    _abandon(task)
    return json_response({"code": 504, "message": HANDLER_TIMEOUT_MESSAGE}, status=504)


def _abandon(task: asyncio.Future[web.StreamResponse]) -> None:
    """Cancel a handler whose answer nobody waits for; its outcome is only logged."""
    task.cancel()

    def _done(t: asyncio.Future[web.StreamResponse]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.info("abandoned handler ended with %s", type(t.exception()).__name__)

    task.add_done_callback(_done)


def create_app(settings: Settings, service: LogService, v2: V2Log | None = None
               ) -> web.Application:
    """The app (with the Rekor v2 API under /api/v2 when `v2` is given); its
    verification pool starts and stops with it (on_startup, on_cleanup)."""
    bounds = settings.limits
    limits.configure(bounds)  # for anything parsed in this process
    # client_max_size makes aiohttp refuse larger bodies with 413 while reading them.
    app = web.Application(client_max_size=bounds.max_body_bytes,
                          middlewares=[observe_requests, error_middleware,
                                       request_bounds(bounds.max_body_bytes,
                                                      settings.request_timeout_s)])
    app[SETTINGS] = settings
    app[SERVICE] = service
    app[VERIFIER] = make_pool(settings.verify_pool, settings.verify_pool_size, bounds)

    async def start_pool(app: web.Application) -> None:
        await app[VERIFIER].start()

    async def stop_pool(app: web.Application) -> None:
        await app[VERIFIER].close()

    app.on_startup.append(start_pool)
    app.on_cleanup.append(stop_pool)
    if settings.warm_tile_cache:
        start_warming(app, service.warm_tiles)
    add_routes(app)
    app[NOTARY] = tile_notaries(settings, service)
    app[TILE_CACHE] = ImmutableCache()
    add_tile_routes(app, settings.tile_prefix)
    v2_sub = None
    if v2 is not None:
        app[V2_LOG] = v2
        v2_sub = v2_api.v2_app(v2)
    if settings.witness_policy is not None:
        add_witnessing(app, settings, v2_sub)
    if v2_sub is not None:
        app.add_subapp(v2_api.PREFIX, v2_sub)
    tsa = timestamp_authority(settings)
    if tsa is not None:
        add_timestamp_routes(app, tsa)
    if settings.explorer:
        add_explorer_routes(app, settings)
    return app


def add_witnessing(app: web.Application, settings: Settings,
                   v2_sub: web.Application | None) -> None:
    """A witnessing Publisher for the v1 log and the v2 log (rekor_py/witness/), run
    with the app; raises PolicyError for a bad policy file."""
    assert settings.witness_policy is not None
    policy = parse_policy(settings.witness_policy.read_text())
    if v2_sub is not None:
        v1_origin = c2sp_origin(app[SERVICE].checkpoint_name, settings.tile_prefix)
        if v1_origin == v2_sub[V2_LOG].origin:
            # A witness keeps one state per origin: two trees under one name would
            # look like a fork to it.
            raise ValueError(f"the v1 tile API and the Rekor v2 log are both named "
                             f"{v1_origin!r}: set --tile-prefix (or turn Rekor v2 off) "
                             "to witness them")
    for target in (app, v2_sub):
        if target is None:
            continue
        publisher = Publisher(
            target[SERVICE], target[NOTARY], policy, target[SERVICE].pool,
            fail_closed=settings.witness_fail_closed,
            interval_s=settings.witness_interval_ms / 1000,
            timeout_s=settings.witness_timeout_s, wait_s=settings.witness_wait_s,
            writable=not settings.read_only)
        target[PUBLISHER] = publisher
        app.setdefault(PUBLISHERS, []).append(publisher)

        async def start(_app: web.Application, p: Publisher = publisher) -> None:
            await p.start()

        async def stop(_app: web.Application, p: Publisher = publisher) -> None:
            await p.stop()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)


def timestamp_authority(settings: Settings) -> TimestampAuthority | None:
    """The RFC 3161 TSA (tsa/): its key and chain, created in the data dir on first
    start.  A read-only server (a replica) serves it only with the files present:
    it must sign under the chain clients were given, never one of its own."""
    if settings.read_only:
        key = settings.tsa_key or settings.data_dir / DEFAULT_KEY_FILE
        chain = settings.tsa_chain or settings.data_dir / DEFAULT_CHAIN_FILE
        if not ((isinstance(key, str) or key.exists()) and chain.exists()):
            log.warning("no timestamp authority key and chain (%s, %s): not serving "
                        "/api/v1/timestamp", key, chain)
            return None
    if settings.tsa_key is None or settings.tsa_chain is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    uri = uri_of(settings.tsa_key)
    # A key URI (a token) is opened here: tsa/ sits below keys/ and does not import it.
    in_token = open_uri_key(uri, settings, "REKOR_PY_TSA_KEY") if uri is not None else None
    return TimestampAuthority.from_settings(settings, in_token)


def tile_notaries(settings: Settings, service: LogService) -> TreeNotaries:
    """The C2SP checkpoint signers of each tree: the tree's log key (if it has a
    signed-note type), then the Ed25519 note key (Settings.note_key_path, created
    on first start).  The origin is `<tree's checkpoint name><tile prefix>` for
    the log's first tree; a tree started by a rotation is another C2SP log, so
    its origin adds "/<tree ID>" (log/c2sp.py shard_c2sp_origin)."""
    # The tree's name, not this process's host:port: every server of one tree
    # must sign the same C2SP origin (as for the v1 checkpoints).
    base = c2sp_origin(service.checkpoint_name, settings.tile_prefix)
    if settings.note_key is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    note_key = open_note_key(settings, settings.note_key_path, "REKOR_PY_NOTE_KEY")

    def make(tree: TreeRow) -> CheckpointNotary:
        origin = base if tree.virtual_offset == 0 else shard_c2sp_origin(base, tree.tree_id)
        log_key = NoteSigner.for_log_key(origin, service.signer_for(tree))
        signers = [s for s in (log_key, NoteSigner.ed25519(origin, note_key)) if s is not None]
        return CheckpointNotary(origin, signers)

    return TreeNotaries(make)
