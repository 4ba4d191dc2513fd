"""The timestamp authority's HTTP routes, as sigstore/timestamp-authority serves them.

- `POST /api/v1/timestamp`: a DER TimeStampReq (`application/timestamp-query`) or the
  JSON form (`application/json`, what sigstore-js sends); the answer is a DER
  TimeStampResp, `application/timestamp-reply`, status 200 (that server's default;
  it answers 201 only with --use-http-201).
- `GET /api/v1/timestamp/certchain`: the PEM chain, TSA certificate first and root
  last, `application/pem-certificate-chain`.

A request the TSA refuses is a 400, another content type a 415, a body over the
bound a 413, each with the `{"code", "message"}` body (api/problems.py).  Signing one
token takes well under a millisecond (one ECDSA signature), so it runs on the event
loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from rekor_py.errors import PayloadTooLarge
from rekor_py.tsa import TimestampAuthority
from rekor_py.tsa.request import MAX_JSON_REQUEST_BYTES

__all__ = ["CERTCHAIN_PATH", "TIMESTAMP_PATH", "TSA", "add_timestamp_routes"]

TSA = web.AppKey("tsa", TimestampAuthority)

TIMESTAMP_PATH = "/api/v1/timestamp"
CERTCHAIN_PATH = "/api/v1/timestamp/certchain"

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
CHAIN_TYPE = "application/pem-certificate-chain"

# A TimeStampReq is about 100 bytes (a SHA-512 digest, a nonce, a policy): 64 KiB
# leaves room for any honest one.  The JSON form keeps sigstore's TSA's bound
# (tsa/request.py).
MAX_QUERY_BYTES = 64 * 1024
MAX_JSON_BYTES = MAX_JSON_REQUEST_BYTES


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 past `limit` bytes (before reading, when declared).

    request.read(), not request.content: the app's body-deadline middleware has
    usually read the body already (aiohttp keeps it for read()), and the app's
    client_max_size bounds what read() takes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"timestamp request of {declared} bytes is over {limit} bytes")
    body = await request.read()
    if len(body) > limit:
        raise PayloadTooLarge(f"timestamp request is over {limit} bytes")
    return body


async def post_timestamp(request: web.Request) -> web.Response:
    tsa = request.app[TSA]
    content_type = request.content_type
    respond: Callable[[bytes], bytes]
    if content_type == QUERY_TYPE:
        respond, body = tsa.respond, await _read_bounded(request, MAX_QUERY_BYTES)
    elif content_type == "application/json":
        respond, body = tsa.respond_json, await _read_bounded(request, MAX_JSON_BYTES)
    else:
        raise web.HTTPUnsupportedMediaType(
            reason=f"unsupported media type {content_type!r}; "
                   f"use {QUERY_TYPE} or application/json")
    # A key in a token signs in a thread: a slow device must not stall the event loop.
    reply = respond(body) if tsa.signs_in_memory else await asyncio.to_thread(respond, body)
    return web.Response(body=reply, content_type=REPLY_TYPE)


async def get_certchain(request: web.Request) -> web.Response:
    return web.Response(body=request.app[TSA].chain_pem, content_type=CHAIN_TYPE)


def add_timestamp_routes(app: web.Application, tsa: TimestampAuthority) -> None:
    """Serve `tsa` on `app` (which needs api/problems.py's error_middleware for the
    error bodies)."""
    app[TSA] = tsa
    app.router.add_post(TIMESTAMP_PATH, post_timestamp)
    app.router.add_get(CERTCHAIN_PATH, get_certchain)
