"""GET /api/v1/openapi.yaml and /api/v1/openapi.json: the Swagger 2.0 document of this server.

This module owns serving the document and fitting it to the running server.
The document itself is package data (api/openapi.yaml, derived from Rekor's,
Apache-2.0; its header lists what changed).  Rekor serves no such document, so
the path is ours: under /api/v1, next to the API it describes.

Two things depend on the server, and are applied when the document is first
served: the C2SP tile paths (tagged `tiles`) move under Settings.tile_prefix,
and the ProposedEntry kinds this build has no implementation for are dropped,
so the document never promises a kind the registry refuses.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import yaml  # type: ignore[import-untyped]
from aiohttp import web

from rekor_py.api.keys import SETTINGS
from rekor_py.types import KNOWN_KINDS, registered

__all__ = ["get_openapi_json", "get_openapi_yaml", "openapi_document"]

_RESOURCE = "openapi.yaml"
_TILES_TAG = "tiles"


def _source_text() -> str:
    return resources.files("rekor_py.api").joinpath(_RESOURCE).read_text(encoding="utf-8")


def _license_header(text: str) -> str:
    """The leading comment block (the Apache-2.0 notice and the list of changes),
    which a YAML dump would lose."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#") and line.strip():
            break
        lines.append(line)
    return "".join(lines)


def openapi_document(tile_prefix: str) -> dict[str, Any]:
    """The document as served with this tile prefix ("" or "/path"), as a new dict."""
    doc: dict[str, Any] = yaml.safe_load(_source_text())
    paths: dict[str, Any] = {}
    for path, item in doc["paths"].items():
        tags = {tag for op in item.values() for tag in op.get("tags", ())}
        paths[tile_prefix + path if _TILES_TAG in tags else path] = item
    doc["paths"] = paths
    kinds = {kind for kind, _ in registered()}
    for kind in KNOWN_KINDS - kinds:
        doc["definitions"].pop(kind, None)
    return doc


@functools.cache
def _rendered(tile_prefix: str) -> tuple[str, str]:
    """(YAML, JSON) text, built once per prefix: the registry is fixed after import."""
    doc = openapi_document(tile_prefix)
    # sort_keys=False keeps the document's own order (paths as in Rekor's).
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    as_json = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    return _license_header(_source_text()) + "\n" + body, as_json


async def get_openapi_yaml(request: web.Request) -> web.Response:
    text, _ = _rendered(request.app[SETTINGS].tile_prefix)
    # application/yaml: RFC 9512.
    return web.Response(text=text, content_type="application/yaml", charset="utf-8")


async def get_openapi_json(request: web.Request) -> web.Response:
    _, text = _rendered(request.app[SETTINGS].tile_prefix)
    return web.Response(text=text, content_type="application/json", charset="utf-8")
