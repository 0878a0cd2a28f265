"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from arq.connections import create_pool

from hotspotd.db import Database
from hotspotd.settings import Settings
from portal.admin_views import setup_admin_views
from portal.api_views import setup_api_views
from portal.csrf import csrf_middleware, setup_csrf
from portal.customers_views import setup_customers_views
from portal.health import setup_health
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.middlewares import error_middleware, security_headers_middleware
from portal.plans_views import setup_plans_views
from portal.routers_views import setup_routers_views
from portal.templating import setup_templates
from portal.vouchers_views import setup_vouchers_views
from portal.websocket import setup_event_hub
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
    # Order matters: errors outermost so every failure below becomes one logged
    # answer; security headers next so error pages carry them too; CSRF last,
    # right before the handler, so a refused request never reaches a view.
    app = web.Application(
        middlewares=[error_middleware, security_headers_middleware, csrf_middleware]
    )
    app[SETTINGS_KEY] = settings
    app.cleanup_ctx.append(_database_ctx)
    app.cleanup_ctx.append(_redis_ctx)
    setup_health(app)
    setup_csrf(app)
    setup_templates(app)
    # The hub's Redis subscription is opened after the pool above (cleanup_ctx order).
    setup_event_hub(app)
    setup_api_views(app)
    setup_admin_views(app)
    setup_routers_views(app)
    setup_plans_views(app)
    setup_vouchers_views(app)
    setup_customers_views(app)
    return app
