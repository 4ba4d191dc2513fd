"""GET /api/v1/trustConfig: the ClientTrustConfig naming this server's logs and
its timestamp authority, for `sigstore --trust-config` and the like
(log/trust_config.py).

The URLs in it are the ones the request reached: `<scheme>://<Host header>`.
Behind a proxy that rewrites either, fetch it through the public URL (or use
`rekor-py trust-config --url`).
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from rekor_py.api.keys import SERVICE, SETTINGS, V2_LOG
from rekor_py.api.problems import json_response
from rekor_py.api.timestamp import TIMESTAMP_PATH, TSA
from rekor_py.log.trust_config import (
    LogInstance,
    TimestampAuthorityInstance,
    client_trust_config,
    v1_log_id,
)

__all__ = ["get_trust_config", "log_instances", "timestamp_authorities"]


async def log_instances(app: web.Application, base_url: str) -> list[LogInstance]:
    """The v1 log, one instance per key its shards were signed with (a key that a
    rotation retired is valid until that rotation), and, when served, the v2 log."""
    service = app[SERVICE]
    operator = app[SETTINGS].checkpoint_name
    logs: list[LogInstance] = []
    trees = (await service.shards()).trees
    for tree in trees:
        der = service.signer_for(tree).verifier.spki_der
        if logs and logs[-1].public_key_der == der:
            continue  # the same key goes on signing
        if logs:
            logs[-1] = dataclasses.replace(logs[-1], valid_until=tree.created_at)
        assert tree.created_at is not None  # the column is NOT NULL
        logs.append(LogInstance(base_url, 1, der, v1_log_id(der), tree.created_at, operator))
    v2 = app.get(V2_LOG)
    if v2 is not None:
        logs.append(LogInstance(base_url, 2, v2.public_key_der, v2.log_id,
                                await v2.service.created_at(), operator))
    return logs


def timestamp_authorities(app: web.Application, base_url: str
                          ) -> list[TimestampAuthorityInstance]:
    """The server's RFC 3161 TSA, when it serves one (api/timestamp.py)."""
    tsa = app.get(TSA)
    if tsa is None:
        return []
    return [TimestampAuthorityInstance(base_url + TIMESTAMP_PATH, tsa.chain,
                                       app[SETTINGS].checkpoint_name)]


async def get_trust_config(request: web.Request) -> web.Response:
    base_url = f"{request.scheme}://{request.host}"
    logs = await log_instances(request.app, base_url)
    return json_response(client_trust_config(logs,
                                             timestamp_authorities(request.app, base_url)))
