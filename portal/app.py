"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from arq.connections import create_pool

from hotspotd.db import Database
from hotspotd.settings import Settings
from portal.health import setup_health
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from tasks.worker import redis_settings


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    # Migrations are `hotspotd migrate`'s job; the portal only opens the file.
    app[DB_KEY] = await Database.open(app[SETTINGS_KEY].database.path, migrate=False)
    yield
    await app[DB_KEY].close()


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REDIS_KEY] = await create_pool(redis_settings(app[SETTINGS_KEY]))
    yield
    await app[REDIS_KEY].aclose()


def create_app(settings: Settings) -> web.Application:
    """Build the portal application: captive portal, admin panel, API, health."""
    app = web.Application()
    app[SETTINGS_KEY] = settings
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(_redis_ctx)
    setup_health(app)
    return app
