"""GET /api/v1/trustConfig: the ClientTrustConfig naming this server's logs and
its timestamp authority, for `sigstore --trust-config` and the like
(log/trust_config.py).

The URLs in it are the ones the request reached: `<scheme>://<Host header>`.
Behind a proxy that rewrites either, fetch it through the public URL (or use
`rekor-py trust-config --url`).
"""

from __future__ import annotations

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
    """The v1 log and, when served, the v2 log."""
    service = app[SERVICE]
    operator = app[SETTINGS].checkpoint_name
    der = service.signer.verifier.spki_der
    logs = [LogInstance(base_url, 1, der, v1_log_id(der), await service.created_at(),
                        operator)]
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
