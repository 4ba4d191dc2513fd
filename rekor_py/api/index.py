"""POST /api/v1/index/retrieve: search the index (placeholder until the search work lands)."""

from __future__ import annotations

from aiohttp import web

from rekor_py.api.problems import json_response


async def search_index(request: web.Request) -> web.Response:
    return json_response({"code": 501, "message": "searchIndex API not enabled in this "
                          "Rekor instance"}, status=501)
