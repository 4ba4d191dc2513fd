"""The served OpenAPI document says exactly what the server answers (so fuzzing it is fair).

Every route in api/routes.py (parameter names aside) is in the document and every documented
operation is routed; the tile paths follow the tile prefix; the entry kinds
documented are the registered ones.  The document ships as package data.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import yaml  # type: ignore[import-untyped]
from aiohttp import web

from rekor_py.api import v2 as v2_api
from rekor_py.api.openapi import _rendered, openapi_document
from rekor_py.api.routes import add_routes, add_tile_routes
from rekor_py.api.timestamp import add_timestamp_routes
from rekor_py.api.v2 import add_v2_routes
from rekor_py.tsa import TimestampAuthority
from rekor_py.types import KNOWN_KINDS, registered

# aiohttp serves all four tile templates with one route ({path:.+}).
_TILE_TEMPLATE = re.compile(r"/tile/.*")
_PARAM = re.compile(r"\{[^}]*\}")


def _routes(app: web.Application, mounted_at: str = "") -> set[tuple[str, str]]:
    routed = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside each GET
        path = route.resource.canonical if route.resource else ""
        routed.add((route.method, _PARAM.sub("{}", mounted_at + path)))
    return routed


def _routed(prefix: str, tsa_dir: Path) -> set[tuple[str, str]]:
    app = web.Application()
    add_routes(app)
    add_tile_routes(app, prefix)
    add_timestamp_routes(app, TimestampAuthority.load_or_create(tsa_dir))  # any TSA will do
    v2 = web.Application()
    add_v2_routes(v2)
    return _routes(app) | _routes(v2, v2_api.PREFIX)


def _documented(prefix: str) -> set[tuple[str, str]]:
    doc = openapi_document(prefix)
    found = set()
    for path, item in doc["paths"].items():
        for base in (prefix, v2_api.PREFIX):
            if _TILE_TEMPLATE.fullmatch(path.removeprefix(base)):
                path = f"{base}/tile/{{}}"
                break
        found |= {(method.upper(), _PARAM.sub("{}", path)) for method in item}
    return found


def test_every_route_documented_and_every_operation_routed(tmp_path: Path) -> None:
    for prefix in ("", "/tiles"):
        assert _documented(prefix) == _routed(prefix, tmp_path)


def test_documented_kinds_are_the_registered_ones() -> None:
    definitions = openapi_document("")["definitions"]
    documented = {name for name in definitions if name in KNOWN_KINDS}
    assert documented == {kind for kind, _ in registered()}


def test_yaml_and_json_agree_and_keep_the_license() -> None:
    text, as_json = _rendered("")
    assert text.startswith("#\n# Copyright 2021 The Sigstore Authors.\n")
    assert "Licensed under the Apache License, Version 2.0" in text
    # YAML keeps integer status codes where JSON has strings.
    assert json.loads(json.dumps(yaml.safe_load(text))) == json.loads(as_json)
    assert json.loads(as_json)["swagger"] == "2.0"


def test_index_hash_pattern_takes_sha384() -> None:
    pattern = openapi_document("")["definitions"]["SearchIndex"]["properties"]["hash"]["pattern"]
    assert re.search(pattern, "sha384:" + "ab" * 48)
    assert not re.search(pattern, "sha384:" + "ab" * 47)


def test_document_is_package_data() -> None:
    assert resources.files("rekor_py.api").joinpath("openapi.yaml").is_file()
