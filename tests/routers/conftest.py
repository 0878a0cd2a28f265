"""Fixtures for the router client, registration, sync and kick tests (names prefixed ``box_``
so they do not shadow anything the simulator tests below this folder use)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store.admins import Actor
from hotspotd.store.tenants import Tenant
from routers.simulator.run import RouterConfig, RunningRouter, start_router
from tests.support.domain import make_tenant
from tests.support.freeradius import RadiusServer, free_udp_port, freeradius_on_new_database

ROUTER_PASSWORD = "router-api-pass"
# 127.0.1.x: away from the simulator tests' 127.0.0.x, one address per simulated router.
_ADDRESSES = (f"127.0.1.{n}" for n in itertools.count(10))

StartRouter = Callable[..., Awaitable[RunningRouter]]


def next_address() -> str:
    """Return a loopback address no other router of this test run uses."""
    return next(_ADDRESSES)


@pytest.fixture(scope="module")
def box_radius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A private FreeRADIUS on a migrated database, one per test module."""
    with freeradius_on_new_database(tmp_path_factory.mktemp("box-freeradius")) as server:
        yield server


@pytest.fixture
def box_settings(make_settings: Callable[..., Settings], box_radius: RadiusServer) -> Settings:
    """Settings on the FreeRADIUS database, short router timeouts, a free Disconnect port."""
    return make_settings(
        database={"path": str(box_radius.db_path)},
        radius={
            "auth_port": box_radius.auth_port,
            "acct_port": box_radius.acct_port,
            "local_secret": box_radius.secret,
            "coa_port": free_udp_port("127.0.1.1"),
            "coa_timeout_s": 1.0,
        },
        portal={"public_url": "http://portal.hotspot.test:8080"},
        routers={
            "connect_timeout_s": 1.0,
            "command_timeout_s": 1.0,
            "register_timeout_s": 2.0,
            "walled_garden_hosts": ["pay.example.com"],
        },
    )


@pytest.fixture
async def box_db(box_settings: Settings) -> AsyncIterator[Database]:
    """The database FreeRADIUS reads."""
    db = await Database.open(box_settings.database.path)
    yield db
    await db.close()


_SLUGS = (f"op{n}" for n in itertools.count(1))


@pytest.fixture
async def box_tenant(box_db: Database) -> Tenant:
    """A fresh tenant (the module's database is shared between tests)."""
    return await make_tenant(box_db, next(_SLUGS))


@pytest.fixture
def box_admin(box_tenant: Tenant) -> Actor:
    """The tenant's admin."""
    return Actor(admin_id=1, username="op-admin", role="admin", tenant_id=box_tenant.id)


@pytest.fixture
async def box_router() -> AsyncIterator[StartRouter]:
    """Start simulated routers (no RADIUS configured, as out of the box); all closed at the end."""
    started: list[RunningRouter] = []

    async def start(**overrides: Any) -> RunningRouter:
        values: dict[str, Any] = {
            "identity": f"sim-{len(started) + 1}",
            "address": next_address(),
            "password": ROUTER_PASSWORD,
        }
        values.update(overrides)
        running = await start_router(RouterConfig(**values))
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        await running.close()
