"""Typed keys for what the app holds (aiohttp's web.AppKey)."""

from __future__ import annotations

from aiohttp import web

from rekor_py.config import Settings
from rekor_py.log.c2sp import TreeNotaries
from rekor_py.log.service import LogService
from rekor_py.log.v2_log import V2Log
from rekor_py.log.verify_pool import VerifyPool
from rekor_py.witness.publisher import Publisher

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", LogService)
# The tile API's C2SP checkpoint signer (its tile cache's key is in api/tiles.py,
# next to the cache class, which would otherwise import this module circularly).
NOTARY = web.AppKey("notary", TreeNotaries)
# Where proposed entries are parsed and verified, off the event loop.
VERIFIER = web.AppKey("verifier", VerifyPool)
# The Rekor v2 log (api/v2.py), when the server runs one.
V2_LOG = web.AppKey("v2_log", V2Log)
# Witnessing (rekor_py/witness/publisher.py), when a witness policy is set.
PUBLISHER = web.AppKey("publisher", Publisher)
# Every Publisher of the server (v1 and v2), on the main app, for /metrics.
PUBLISHERS = web.AppKey("publishers", list[Publisher])
