"""The web explorer: a page that shows the log and verifies, in the browser, every
proof it shows (TypeScript in explorer/ at the repository's root, built with npm
into static/ when the package is built; see docs/explorer.md).

`add_explorer_routes` serves it under Settings.explorer_prefix: the page, its
script and style sheet, and growth.json (the log's size by hour, explorer/growth.py).
The page reads its settings from a JSON block the server fills in.  Without the
built assets (a checkout installed where npm was missing) the prefix serves a short
page saying so; the API is unaffected.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from typing import Any

from aiohttp import web

from rekor_py.api.keys import PUBLISHER, SERVICE, V2_LOG
from rekor_py.config import Settings
from rekor_py.errors import InvalidRequest
from rekor_py.explorer.growth import growth

__all__ = ["add_explorer_routes", "assets_built"]

_ASSETS = {"explorer.js": "text/javascript", "explorer.css": "text/css"}
_CONFIG_TAG = '<script id="explorer-config" type="application/json">{}</script>'
# The page runs no inline script and loads nothing from elsewhere; the policy says so.
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>rekor-py</title>
<h1>rekor-py</h1><p>The web explorer was not built into this installation (npm was not
found when the package was built: install Node.js 20 and npm, then reinstall).</p>
<p>The log's API is served as usual, under <a href="/api/v1/log">/api/v1</a>.</p></html>
"""


def _static(name: str) -> bytes | None:
    f = resources.files(__package__).joinpath("static", name)
    return f.read_bytes() if f.is_file() else None


def assets_built() -> bool:
    return all(_static(n) is not None for n in ("index.html", *_ASSETS))


def _page_config(app: web.Application, settings: Settings) -> dict[str, Any]:
    # The witnesses of the policy the app's publisher already parsed (add_witnessing).
    publisher = app.get(PUBLISHER)
    witnesses = [] if publisher is None else [
        {"name": w.name, "vkey": w.verifier.vkey} for w in publisher.policy.witnesses.values()]
    return {"apiBase": "", "tilePrefix": settings.tile_prefix, "v2": V2_LOG in app,
            "explorerBase": settings.explorer_prefix, "witnesses": witnesses}


def _index(app: web.Application, settings: Settings) -> bytes | None:
    page = _static("index.html")
    if page is None:
        return None
    # No "<" in the JSON at all (written as \u003c, which JSON reads back the same): no
    # value can close the script element or open an HTML comment inside it.
    config = json.dumps(_page_config(app, settings)).replace("<", "\\u003c")
    text = page.decode()
    if _CONFIG_TAG not in text:
        raise RuntimeError("the explorer's index.html lacks its configuration block")
    return text.replace(_CONFIG_TAG, _CONFIG_TAG.replace("{}", config)).encode()


def add_explorer_routes(app: web.Application, settings: Settings) -> None:
    prefix = settings.explorer_prefix
    index = _index(app, settings)
    assets = {name: _static(name) for name in _ASSETS}

    async def get_index(request: web.Request) -> web.Response:
        if index is None:
            return web.Response(text=_NOT_BUILT, content_type="text/html")
        return web.Response(body=index, content_type="text/html", charset="utf-8", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    def asset(name: str, body: bytes) -> Any:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

        async def get_asset(request: web.Request) -> web.Response:
            # Revalidated on each load (names carry no hash), answered 304 when unchanged.
            headers = {"Cache-Control": "no-cache", "ETag": etag, "X-Content-Type-Options": "nosniff"}
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
            return web.Response(body=body, content_type=_ASSETS[name], charset="utf-8", headers=headers)
        return get_asset

    async def get_growth(request: web.Request) -> web.Response:
        raw = request.query.get("hours", "24")
        if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 168:
            raise InvalidRequest("hours must be a whole number from 1 to 168")
        g = await growth(request.app[SERVICE], int(raw))
        return web.json_response(g.to_json(), headers={"Cache-Control": "public, max-age=60"})

    routes = [web.get(prefix, get_index), web.get(prefix + "growth.json", get_growth)]
    if prefix != "/":
        routes.append(web.get(prefix.rstrip("/"), _redirect_to(prefix)))
    routes += [web.get(prefix + name, asset(name, body)) for name, body in assets.items() if body is not None]
    app.router.add_routes(routes)


def _redirect_to(location: str) -> Any:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(location)
    return redirect
