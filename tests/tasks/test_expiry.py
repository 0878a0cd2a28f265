"""Expiry end to end: the worker cuts a live session off, and without the worker FreeRADIUS and
the (simulated) router still do.

Real components: a private FreeRADIUS on the daemon's database, the router simulator (login
servlet, accounting, Disconnect listener) registered through the registration code, and the
real arq worker for the critical queue.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from pyrad import packet

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import plans, subscriptions
from hotspotd.store.subscriptions import Subscription
from hotspotd.store.tenants import Tenant
from portal.plans_views import PlanInput, save_plan
from radius import users
from radius.accounting import open_sessions, user_sessions
from routers.simulator.run import RunningRouter
from tasks.context import DB, SETTINGS
from tasks.expiry import expire_due_subscriptions, reconcile_subscription_radius
from tasks.plan_jobs import push_plan_limits_now
from tasks.provisioning import provision_hotspot_user
from tasks.subscription_enqueue import (
    enqueue_reconnect_subscription,
    enqueue_resume_account,
    enqueue_suspend_account,
)
from tasks.subscriptions_jobs import reconnect_subscription_now
from tests.support.domain import make_pending_subscription, make_plan
from tests.support.fake_radius import wait_until
from tests.support.hotspot_box import registered_router, until
from tests.support.worker import running_worker


@pytest.fixture
async def router(
    e2e_db: Database, e2e_settings: Settings, tenant: Tenant
) -> AsyncIterator[RunningRouter]:
    async with registered_router(e2e_db, e2e_settings, tenant) as running:
        yield running


async def provision(
    db: Database, settings: Settings, pool: ArqRedis, tenant: Tenant, **plan: Any
) -> Subscription:
    """Create and provision a subscription by calling the job directly (no worker)."""
    sub = await make_pending_subscription(db, tenant, await make_plan(db, tenant, **plan))
    await provision_hotspot_user({DB: db, SETTINGS: settings, "redis": pool}, sub.id)
    return await subscriptions.get_subscription(db, tenant.id, sub.id)


def _events(rows: Iterator[Any] | list[Any]) -> list[str]:
    return [row["type"] for row in rows]


async def test_expiry_worker_disconnects_live_session(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    # A long validity, so the router's Session-Timeout (capped by Expiration) is far away:
    # only the worker can end this session in time.
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600)
    client = router.arrive()
    attempt = await client.login(sub.username, sub.password)
    assert attempt.ok, attempt
    session = client.session
    assert session is not None

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)
    # The expiry moves to two seconds from now (as if it had been reached).
    expires_at = int(time.time()) + 2
    async with e2e_db.transaction() as conn:
        await conn.execute(
            "UPDATE subscriptions SET expires_at = ? WHERE id = ?", (expires_at, sub.id)
        )

    async with running_worker(e2e_settings, "critical"):
        await wait_until(lambda: not client.logged_in, timeout_s=40)
        cut_at = time.time()
        await session.wait_closed()
    assert cut_at - expires_at <= 30, f"cut off {cut_at - expires_at:.1f} s after expiry"
    assert session.end_cause == "Admin-Reset"
    assert (packet.DisconnectRequest, packet.DisconnectACK) in router.incoming.handled

    stored = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert stored.status == "expired"
    rows = await e2e_db.fetchall(
        "SELECT type, payload FROM events WHERE tenant_id = ? AND type IN"
        " ('AccountSuspended', 'SessionKicked', 'SessionKickFailed') ORDER BY id",
        (tenant.id,),
    )
    assert _events(rows) == ["AccountSuspended", "SessionKicked"]
    assert json.loads(rows[0]["payload"])["reason"] == "expired"
    assert json.loads(rows[1]["payload"])["method"] == "radius"

    async def stopped() -> bool:
        found = await user_sessions(e2e_db, sub.username)
        return bool(found) and not found[0].is_open

    await until(stopped)
    # Logging in again is refused by FreeRADIUS.
    again = await client.login(sub.username, sub.password)
    assert not again.ok


async def test_expiry_enforced_without_worker(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=5)
    assert sub.expires_at is not None
    client = router.arrive()
    attempt = await client.login(sub.username, sub.password)
    assert attempt.ok, attempt
    session = client.session
    assert session is not None and session.session_deadline is not None

    # No worker runs: the router ends the session at the Session-Timeout FreeRADIUS capped.
    await wait_until(lambda: not client.logged_in, timeout_s=20)
    await session.wait_closed()
    assert session.end_cause == "Session-Timeout"
    assert time.time() >= sub.expires_at - 1.5

    # After expiry FreeRADIUS refuses the user.
    while time.time() <= sub.expires_at + 1:
        await asyncio.sleep(0.1)
    again = await client.login(sub.username, sub.password)
    assert not again.ok
    assert not client.logged_in
    # Nothing in the daemon changed: this was FreeRADIUS and the router alone.
    stored = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert stored.status == "active"


async def test_renewal_while_online_keeps_session_and_applies_new_limits(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(
        e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600, rate_limit="2M/5M"
    )
    assert sub.expires_at is not None
    bigger = await make_plan(e2e_db, tenant, validity_s=7200, rate_limit="4M/8M")
    client = router.arrive()
    assert (await client.login(sub.username, sub.password)).ok
    session = client.session
    assert session is not None and session.rate_limit == "2M/5M"

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)

    async with running_worker(e2e_settings, "critical"):
        job_id = await enqueue_reconnect_subscription(
            arq_pool, e2e_settings, sub.id, base_expires_at=sub.expires_at, plan_id=bigger.id
        )
        # A double submit of the same renewal is refused by the job id (and would be a no-op).
        await enqueue_reconnect_subscription(
            arq_pool, e2e_settings, sub.id, base_expires_at=sub.expires_at, plan_id=bigger.id
        )
        await wait_until(lambda: session.rate_limit == "4M/8M", timeout_s=20)

    assert job_id == f"reconnect:{sub.id}:{sub.expires_at}"
    # Same session, not kicked: the router changed it live.
    assert client.session is session and session.active
    assert (packet.CoARequest, packet.CoAACK) in router.incoming.handled
    assert not any(code == packet.DisconnectRequest for code, _ in router.incoming.handled)
    stored = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert stored.status == "active" and stored.plan_id == bigger.id
    # Extended from the old expiry (it was later than now), once.
    assert stored.expires_at == sub.expires_at + 7200
    assert session.session_deadline is not None
    left = session.session_deadline - asyncio.get_running_loop().time()
    assert stored.expires_at - time.time() - 5 <= left <= stored.expires_at - time.time() + 5
    rows = await e2e_db.fetchall(
        "SELECT type FROM events WHERE subject = ? AND type = 'SubscriptionRenewed'",
        (f"subscription:{sub.id}",),
    )
    assert len(rows) == 1


async def test_suspend_disconnects_and_resume_gives_access_back(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600)
    client = router.arrive()
    assert (await client.login(sub.username, sub.password)).ok

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)

    async def status_is(status: str) -> bool:
        current = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
        return current.status == status

    async with running_worker(e2e_settings, "critical"):
        await enqueue_suspend_account(arq_pool, e2e_settings, sub.id)
        await wait_until(lambda: not client.logged_in, timeout_s=20)
        await until(lambda: status_is("suspended"))
        assert not (await client.login(sub.username, sub.password)).ok

        await enqueue_resume_account(arq_pool, e2e_settings, sub.id)
        await until(lambda: status_is("active"))
        assert (await client.login(sub.username, sub.password)).ok

    types = await e2e_db.fetchall(
        "SELECT type FROM events WHERE subject = ? ORDER BY id", (f"subscription:{sub.id}",)
    )
    assert _events(types) == ["HotspotUserCreated", "AccountSuspended", "AccountResumed"]


async def test_extend_expired_subscription_counts_from_now(
    e2e_settings: Settings, e2e_db: Database, arq_pool: ArqRedis, tenant: Tenant
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600)
    assert sub.expires_at is not None
    past = sub.expires_at - 7200
    async with e2e_db.transaction() as conn:
        await conn.execute("UPDATE subscriptions SET expires_at = ? WHERE id = ?", (past, sub.id))
    await expire_due_subscriptions(e2e_db, e2e_settings)
    expired = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert expired.status == "expired"

    before = int(time.time())
    result = await reconnect_subscription_now(
        e2e_db, e2e_settings, sub.id, base_expires_at=past, extend_s=600
    )
    again = await reconnect_subscription_now(
        e2e_db, e2e_settings, sub.id, base_expires_at=past, extend_s=600
    )

    assert result["applied"] and not again["applied"]
    stored = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert stored.status == "active"
    assert stored.expires_at is not None
    assert before + 600 <= stored.expires_at <= int(time.time()) + 600


async def test_reconciler_disconnects_session_a_crash_left_online(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600)
    client = router.arrive()
    assert (await client.login(sub.username, sub.password)).ok

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)
    # The expiry committed, then the worker died before the disconnect.
    later = int(time.time()) + 3601
    async with e2e_db.transaction() as conn:
        await conn.execute(
            "UPDATE subscriptions SET expires_at = ? WHERE id = ?", (later - 3601, sub.id)
        )
        assert await subscriptions.expire_subscription(conn, sub.id, now=later)
        await users.disable_user(conn, sub.username)
    assert client.logged_in

    result = await reconcile_subscription_radius(e2e_db, e2e_settings)

    assert result["kicked"] == 1
    await wait_until(lambda: not client.logged_in, timeout_s=10)
    again = await reconcile_subscription_radius(e2e_db, e2e_settings)
    assert again == {"repaired": 0, "kicked": 0}


async def test_renewals_with_keys_apply_once_per_key(
    e2e_settings: Settings, e2e_db: Database, arq_pool: ArqRedis, tenant: Tenant
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, validity_s=3600)
    assert sub.expires_at is not None
    # Two payments computed against the same expiry are two renewals; a re-run of one is not.
    results = [
        await reconnect_subscription_now(
            e2e_db, e2e_settings, sub.id, base_expires_at=sub.expires_at, renewal_key=key
        )
        for key in ("pay-1", "pay-2", "pay-1")
    ]
    assert [r["applied"] for r in results] == [True, True, False]
    stored = await subscriptions.get_subscription(e2e_db, tenant.id, sub.id)
    assert stored.expires_at == sub.expires_at + 2 * 3600
    job_id = await enqueue_reconnect_subscription(
        arq_pool, e2e_settings, sub.id, base_expires_at=None, renewal_key="pay-3"
    )
    assert job_id == f"reconnect:{sub.id}:key:pay-3"


async def test_data_quota_ends_session_when_used_up_and_refuses_login(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    quota = 5 * 1024 * 1024
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, data_quota_bytes=quota)
    client = router.arrive()
    attempt = await client.login(sub.username, sub.password)
    assert attempt.ok, attempt
    session = client.session
    assert session is not None and session.total_limit == quota

    # 3 MB down, 2.5 MB up: over the quota, so the router ends the session itself.
    client.add_traffic(2_500_000, 3_000_000)
    await wait_until(lambda: not client.logged_in, timeout_s=10)
    await session.wait_closed()
    assert session.end_cause == "NAS-Request"
    assert session.accounting_sent[-1] == "Stop"

    # The Stop reached radacct, so FreeRADIUS counts the quota as used up.
    async def stopped() -> bool:
        return not await open_sessions(e2e_db, sub.username)

    await until(stopped)
    again = await client.login(sub.username, sub.password)
    assert not again.ok
    assert not client.logged_in


async def test_second_device_beyond_plan_is_refused_at_the_router(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, shared_devices=1)
    phone = router.arrive()
    laptop = router.arrive()
    assert (await phone.login(sub.username, sub.password)).ok

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)  # Simultaneous-Use counts sessions with an accounting Start
    refused = await laptop.login(sub.username, sub.password)
    assert not refused.ok
    assert phone.logged_in and not laptop.logged_in


async def test_plan_edit_pushes_new_rate_limit_to_live_session(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    router: RunningRouter,
) -> None:
    sub = await provision(e2e_db, e2e_settings, arq_pool, tenant, rate_limit="2M/2M")
    client = router.arrive()
    assert (await client.login(sub.username, sub.password)).ok
    session = client.session
    assert session is not None and session.rate_limit == "2M/2M"

    async def started() -> bool:
        return bool(await open_sessions(e2e_db, sub.username))

    await until(started)
    plan = await plans.get_plan(e2e_db, tenant.id, sub.plan_id)
    values = PlanInput.model_validate(
        plan.model_dump(include=set(PlanInput.model_fields)) | {"rate_limit": "8M/8M"}
    )
    await save_plan(e2e_db, e2e_settings, tenant.id, values, plan_id=plan.id)
    result = await push_plan_limits_now(e2e_db, e2e_settings, plan.id)
    assert result["updated"] == 1 and result["failed"] == 0
    # The customer stays online with the new limit: CoA, not a kick.
    assert client.logged_in and client.session is session
    assert session.rate_limit == "8M/8M"
