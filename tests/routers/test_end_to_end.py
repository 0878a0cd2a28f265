"""End to end: register, provision, CHAP login through the router, sync, kick, Stop in radacct.

Everything is real except the router: the registration code, the foundation's provisioning job
on a real arq worker, a private FreeRADIUS on the daemon's database, the router simulator's
login servlet and Disconnect listener, the sync and kick jobs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from arq.connections import ArqRedis, create_pool
from pyrad import packet

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import routers as router_store
from hotspotd.store import subscriptions
from hotspotd.store.admins import Actor
from hotspotd.store.tenants import Tenant
from radius.accounting import open_sessions, user_sessions
from routers.registration import RouterRegistration, register_router
from tasks.enqueue import enqueue_provision_hotspot_user
from tasks.router_enqueue import enqueue_kick_session, enqueue_sync_router
from tasks.worker import redis_settings
from tests.routers.conftest import ROUTER_PASSWORD, StartRouter
from tests.support.domain import make_pending_subscription, make_plan
from tests.support.fake_radius import wait_until
from tests.support.worker import running_worker


@pytest.fixture
async def box_arq(box_settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(box_settings))
    yield pool
    await pool.aclose()


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_login_sync_kick_and_stop_end_to_end(
    box_settings: Settings,
    box_db: Database,
    box_admin: Actor,
    box_tenant: Tenant,
    box_router: StartRouter,
    box_arq: ArqRedis,
) -> None:
    router = await box_router(identity="cafe")
    registered = await register_router(
        box_db,
        box_settings,
        box_admin,
        RouterRegistration.model_validate(
            {
                "name": "cafe",
                "host": router.address,
                "api_port": router.api_port,
                "username": "admin",
                "password": ROUTER_PASSWORD,
            }
        ),
    )
    router_id = registered.router.id
    plan = await make_plan(box_db, box_tenant, rate_limit="2M/5M", validity_s=3600)
    sub = await make_pending_subscription(box_db, box_tenant, plan)

    async with (
        running_worker(box_settings, "critical"),
        running_worker(box_settings, "general"),
    ):
        # The foundation's job provisions the user.
        await enqueue_provision_hotspot_user(box_arq, box_settings, sub.id)

        async def active() -> bool:
            current = await subscriptions.get_subscription(box_db, box_tenant.id, sub.id)
            return current.status == "active"

        await _until(active)

        # A device logs in through the router's login servlet with CHAP; FreeRADIUS accepts.
        client = router.arrive()
        attempt = await client.login(sub.username, sub.password)
        assert attempt.ok, attempt
        session = client.session
        assert session is not None and session.rate_limit == "2M/5M"

        async def started() -> bool:
            return bool(await open_sessions(box_db, sub.username))

        await _until(started)

        # The session shows up in the daemon after a sync.
        await enqueue_sync_router(box_arq, box_settings, router_id)

        async def synced() -> bool:
            rows = await router_store.list_sessions(box_db, box_admin, router_id=router_id)
            return [(s.username, s.address) for s in rows] == [(sub.username, client.ip)]

        await _until(synced)

        # A kick ends it with a Disconnect-Request.
        client.add_traffic(12345, 67890)
        await enqueue_kick_session(box_arq, box_settings, router_id, sub.username, client.ip)
        await wait_until(lambda: not client.logged_in)
        await session.wait_closed()

    assert (packet.DisconnectRequest, packet.DisconnectACK) in router.incoming.handled
    event = await box_db.fetchone(
        "SELECT type, payload FROM events WHERE subject = ? ORDER BY id DESC LIMIT 1",
        (f"router:{router_id}",),
    )
    assert event is not None and event["type"] == "SessionKicked"
    assert json.loads(event["payload"])["method"] == "radius"
    assert await router_store.list_sessions(box_db, box_admin, router_id=router_id) == []

    # The router's accounting Stop lands in radacct.
    async def stopped() -> bool:
        rows = await user_sessions(box_db, sub.username)
        return bool(rows) and not rows[0].is_open

    await _until(stopped)
    (row,) = await user_sessions(box_db, sub.username)
    assert row.terminate_cause == "Admin-Reset"
    assert row.nas_ip == router.address and row.framed_ip == client.ip
    assert (row.input_octets, row.output_octets) == (12345, 67890)
