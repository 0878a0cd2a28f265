"""The expiry run's idempotence and the reconciler that makes RADIUS rows agree with state,
checked against a real FreeRADIUS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, create_pool
from pyrad import packet

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import subscriptions
from hotspotd.store.subscriptions import Subscription
from hotspotd.store.tenants import Tenant
from radius import users
from tasks.context import DB, SETTINGS
from tasks.expiry import expire_due_subscriptions, reconcile_subscription_radius
from tasks.provisioning import provision_hotspot_user
from tasks.worker import redis_settings
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.freeradius import RadiusServer, reply_value


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings))
    yield pool
    await pool.aclose()


async def _active(
    db: Database, settings: Settings, redis: ArqRedis, tenant: Tenant, validity_s: int = 3600
) -> Subscription:
    plan = await make_plan(db, tenant, validity_s=validity_s)
    sub = await make_pending_subscription(db, tenant, plan)
    await provision_hotspot_user({DB: db, SETTINGS: settings, "redis": redis}, sub.id)
    return await subscriptions.get_subscription(db, tenant.id, sub.id)


async def _pap(radius_server: RadiusServer, sub: Subscription) -> Any:
    def call() -> Any:
        with radius_server.client() as client:
            return client.pap(sub.username, sub.password)

    return await asyncio.to_thread(call)


async def _set_status(db: Database, sub: Subscription, status: str, **extra: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE subscriptions SET status = ?, expires_at = IFNULL(?, expires_at) WHERE id = ?",
            (status, extra.get("expires_at"), sub.id),
        )


async def test_expire_due_subscriptions_runs_once_when_concurrent(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "conc")
    sub = await _active(database, settings, arq_redis, tenant)
    assert (await _pap(radius_server, sub)).code == packet.AccessAccept
    assert sub.expires_at is not None
    later = sub.expires_at + 1

    results = await asyncio.gather(
        *(expire_due_subscriptions(database, settings, arq_redis, now=later) for _ in range(3))
    )

    # Other tests' subscriptions in this module's database may expire too; this one counts once.
    assert sum(r["expired"] for r in results) >= 1
    stored = await subscriptions.get_subscription(database, tenant.id, sub.id)
    assert stored.status == "expired"
    rows = await database.fetchall(
        "SELECT type FROM events WHERE subject = ? AND type = 'AccountSuspended'",
        (f"subscription:{sub.id}",),
    )
    assert len(rows) == 1
    assert (await _pap(radius_server, sub)).code == packet.AccessReject


async def test_expire_due_subscriptions_leaves_unexpired_alone(
    settings: Settings, database: Database, arq_redis: ArqRedis
) -> None:
    tenant = await make_tenant(database, "notyet")
    sub = await _active(database, settings, arq_redis, tenant)
    assert sub.expires_at is not None
    await expire_due_subscriptions(database, settings, now=sub.expires_at - 1)
    stored = await subscriptions.get_subscription(database, tenant.id, sub.id)
    assert stored.status == "active"


async def test_reconciler_disables_ended_subscription_left_enabled(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "ended")
    expired = await _active(database, settings, arq_redis, tenant)
    suspended = await _active(database, settings, arq_redis, tenant)
    # State changed without the RADIUS rows (a restored backup, a hand edit).
    await _set_status(database, expired, "expired")
    await _set_status(database, suspended, "suspended")
    assert (await _pap(radius_server, expired)).code == packet.AccessAccept

    result = await reconcile_subscription_radius(database, settings)

    assert result["repaired"] >= 2
    assert (await _pap(radius_server, expired)).code == packet.AccessReject
    assert (await _pap(radius_server, suspended)).code == packet.AccessReject
    again = await reconcile_subscription_radius(database, settings)
    assert again["repaired"] == 0


async def test_reconciler_restores_active_subscription_rows(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "restore")
    lost = await _active(database, settings, arq_redis, tenant, validity_s=600)
    rejected = await _active(database, settings, arq_redis, tenant, validity_s=600)
    async with database.transaction() as conn:
        await users.delete_user(conn, lost.username)
        await users.disable_user(conn, rejected.username)
    assert (await _pap(radius_server, lost)).code == packet.AccessReject

    result = await reconcile_subscription_radius(database, settings)

    assert result["repaired"] >= 2
    for sub in (lost, rejected):
        reply = await _pap(radius_server, sub)
        assert reply.code == packet.AccessAccept
        # The Expiration written back caps the session at the subscription's expiry.
        assert 0 < reply_value(reply, "Session-Timeout") <= 600
