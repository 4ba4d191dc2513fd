"""Typed keys for what the app holds (aiohttp's web.AppKey)."""

from __future__ import annotations

from aiohttp import web

from rekor_py.config import Settings
from rekor_py.log.service import LogService

SETTINGS = web.AppKey("settings", Settings)
SERVICE = web.AppKey("service", LogService)
