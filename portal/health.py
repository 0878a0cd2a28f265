"""/healthz: database, Redis and FreeRADIUS reachability as JSON."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from radius.status import check_radius

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0


async def _check_database(request: web.Request) -> bool:
    row = await request.app[DB_KEY].fetchone("SELECT 1")
    return row is not None


async def _check_redis(request: web.Request) -> bool:
    return bool(await request.app[REDIS_KEY].ping())


async def _check_radius(request: web.Request) -> bool:
    radius = request.app[SETTINGS_KEY].radius
    host = "127.0.0.1" if radius.listen_address in ("0.0.0.0", "*") else radius.listen_address
    return await check_radius(
        host, radius.auth_port, radius.local_secret.get_secret_value(), timeout_s=CHECK_TIMEOUT_S
    )


async def _run(name: str, request: web.Request) -> bool:
    checks = {"database": _check_database, "redis": _check_redis, "radius": _check_radius}
    try:
        return await asyncio.wait_for(checks[name](request), CHECK_TIMEOUT_S + 0.5)
    except Exception as exc:  # any failure means "down"; say why in the log
        logger.warning("health check %s failed: %s", name, exc or type(exc).__name__)
        return False


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when every dependency is reachable, 503 otherwise."""
    names = ("database", "redis", "radius")
    results = await asyncio.gather(*(_run(name, request) for name in names))
    status = dict(zip(names, ("ok" if ok else "down" for ok in results), strict=True))
    healthy = all(results)
    return web.json_response(
        {"status": "ok" if healthy else "degraded", "checks": status},
        status=200 if healthy else 503,
    )


def setup_health(app: web.Application) -> None:
    """Register /healthz."""
    app.router.add_get("/healthz", healthz)
