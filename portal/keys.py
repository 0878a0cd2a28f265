"""Typed keys of the objects shared through the aiohttp application."""

from __future__ import annotations

from aiohttp import web
from arq.connections import ArqRedis

from hotspotd.db import Database
from hotspotd.settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
DB_KEY = web.AppKey("db", Database)
REDIS_KEY = web.AppKey("redis", ArqRedis)
