"""Pieces of an end-to-end hotspot test: settings on a private FreeRADIUS, a simulated router
registered for a tenant, polling helpers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store.admins import Actor
from hotspotd.store.tenants import Tenant
from routers.registration import RouterRegistration, register_router
from routers.simulator.run import RouterConfig, RunningRouter, start_router
from tests.support.freeradius import RadiusServer, free_udp_port

ROUTER_PASSWORD = "router-api-pass"
# 127.0.2.x: away from the router tests' addresses, one per simulated router.
_ADDRESSES = (f"127.0.2.{n}" for n in itertools.count(10))


def box_settings_for(make_settings: Callable[..., Settings], radius: RadiusServer) -> Settings:
    """Settings on FreeRADIUS's database, a free Disconnect port, short router timeouts."""
    return make_settings(
        database={"path": str(radius.db_path)},
        radius={
            "auth_port": radius.auth_port,
            "acct_port": radius.acct_port,
            "local_secret": radius.secret,
            "coa_port": free_udp_port("127.0.2.1"),
            "coa_timeout_s": 1.0,
        },
        routers={"connect_timeout_s": 2.0, "command_timeout_s": 2.0, "register_timeout_s": 5.0},
    )


@contextlib.asynccontextmanager
async def registered_router(
    db: Database, settings: Settings, tenant: Tenant
) -> AsyncIterator[RunningRouter]:
    """Run a simulated router registered for the tenant (RADIUS and Disconnect configured)."""
    running = await start_router(
        RouterConfig(identity="box", address=next(_ADDRESSES), password=ROUTER_PASSWORD)
    )
    try:
        admin = Actor(admin_id=1, username="op", role="admin", tenant_id=tenant.id)
        await register_router(
            db,
            settings,
            admin,
            RouterRegistration.model_validate(
                {
                    "name": f"r-{running.address}",
                    "host": running.address,
                    "api_port": running.api_port,
                    "username": "admin",
                    "password": ROUTER_PASSWORD,
                }
            ),
        )
        yield running
    finally:
        await running.close()


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    """Poll an async check until it is true, or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
