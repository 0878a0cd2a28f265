"""Provisioning through the real queue and a real worker, checked against a real FreeRADIUS."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, create_pool
from pyrad import packet

from hotspotd.db import Database
from hotspotd.events import events_channel
from hotspotd.settings import Settings
from hotspotd.store import subscriptions
from radius import users
from tasks.context import DB, SETTINGS
from tasks.enqueue import enqueue_provision_hotspot_user
from tasks.provisioning import provision_hotspot_user
from tasks.reconcilers import reconcile_pending_subscriptions
from tasks.worker import redis_settings
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.freeradius import RadiusServer, reply_value
from tests.support.worker import running_worker


@pytest.fixture
async def arq_redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings))
    yield pool
    await pool.aclose()


async def _next_event(pubsub: Any, type_: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is not None:
            event: dict[str, Any] = json.loads(message["data"])
            if event["type"] == type_:
                return event
    raise AssertionError(f"no {type_} event within {timeout_s} s")


async def _radius(radius_server: RadiusServer, method: str, *args: Any, **kw: Any) -> Any:
    def call() -> Any:
        with radius_server.client() as client:
            return getattr(client, method)(*args, **kw)

    return await asyncio.to_thread(call)


async def test_provision_job_makes_freeradius_accept_pap_and_chap(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database)
    plan = await make_plan(database, tenant, rate_limit="2M/5M", validity_s=3600)
    sub = await make_pending_subscription(database, tenant, plan)
    pubsub = arq_redis.pubsub()
    await pubsub.subscribe(events_channel(settings.redis.key_prefix))
    try:
        async with running_worker(settings, "critical"):
            job_id = await enqueue_provision_hotspot_user(arq_redis, settings, sub.id)
            event = await _next_event(pubsub, "HotspotUserCreated")
    finally:
        await pubsub.aclose()
    assert job_id == f"provision:{sub.id}"
    assert event["tenant_id"] == tenant.id
    assert event["payload"]["subscription_id"] == sub.id

    stored = await subscriptions.get_subscription(database, tenant.id, sub.id)
    assert stored.status == "active"
    assert stored.expires_at is not None
    rows = await database.fetchall(
        "SELECT type FROM events WHERE subject = ?", (f"subscription:{sub.id}",)
    )
    assert [row["type"] for row in rows] == ["HotspotUserCreated"]

    for method in ("pap", "chap"):
        reply = await _radius(radius_server, method, sub.username, sub.password)
        assert reply.code == packet.AccessAccept, method
        assert reply_value(reply, "Mikrotik-Rate-Limit") == "2M/5M"
        left = stored.expires_at - int(time.time())
        timeout = reply_value(reply, "Session-Timeout")
        assert timeout is not None and left - 5 <= timeout <= left + 1, (timeout, left)


async def test_provisioned_user_rejected_with_wrong_password_or_unknown_name(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "wrongpw")
    plan = await make_plan(database, tenant)
    sub = await make_pending_subscription(database, tenant, plan)
    async with running_worker(settings, "critical"):
        await enqueue_provision_hotspot_user(arq_redis, settings, sub.id)
        await _wait_status(database, tenant.id, sub.id, "active")
    wrong = await _radius(radius_server, "chap", sub.username, sub.password + "x")
    unknown = await _radius(radius_server, "pap", "nobody-" + sub.username, sub.password)
    right = await _radius(radius_server, "pap", sub.username, sub.password)
    assert (wrong.code, unknown.code, right.code) == (
        packet.AccessReject,
        packet.AccessReject,
        packet.AccessAccept,
    )


async def _wait_status(
    db: Database, tenant_id: int, sub_id: int, status: str, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await subscriptions.get_subscription(db, tenant_id, sub_id)).status == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"subscription {sub_id} not {status} within {timeout_s} s")


async def test_expired_subscription_is_rejected(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "expiring")
    plan = await make_plan(database, tenant, validity_s=2)
    sub = await make_pending_subscription(database, tenant, plan)
    async with running_worker(settings, "critical"):
        await enqueue_provision_hotspot_user(arq_redis, settings, sub.id)
        await _wait_status(database, tenant.id, sub.id, "active")
    before = await _radius(radius_server, "pap", sub.username, sub.password)
    assert before.code == packet.AccessAccept
    assert reply_value(before, "Session-Timeout") <= 2
    await asyncio.sleep(3.1)
    after = await _radius(radius_server, "chap", sub.username, sub.password)
    assert after.code == packet.AccessReject


async def test_second_device_beyond_plan_is_rejected_once_first_has_started(
    settings: Settings, database: Database, arq_redis: ArqRedis, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "onedevice")
    plan = await make_plan(database, tenant, shared_devices=1)
    sub = await make_pending_subscription(database, tenant, plan)
    async with running_worker(settings, "critical"):
        await enqueue_provision_hotspot_user(arq_redis, settings, sub.id)
        await _wait_status(database, tenant.id, sub.id, "active")
    first = await _radius(
        radius_server, "chap", sub.username, sub.password, mac="AA:00:00:00:00:01"
    )
    assert first.code == packet.AccessAccept
    start = await _radius(
        radius_server, "accounting", "Start", sub.username, "sess-1", mac="AA:00:00:00:00:01"
    )
    assert start.code == packet.AccountingResponse
    second = await _radius(
        radius_server,
        "chap",
        sub.username,
        sub.password,
        mac="AA:00:00:00:00:02",
        client_ip="10.5.50.11",
    )
    assert second.code == packet.AccessReject
    stop = await _radius(
        radius_server,
        "accounting",
        "Stop",
        sub.username,
        "sess-1",
        session_time_s=30,
        input_octets=1000,
        output_octets=5000,
        terminate_cause="User-Request",
        mac="AA:00:00:00:00:01",
    )
    assert stop.code == packet.AccountingResponse
    again = await _radius(
        radius_server,
        "chap",
        sub.username,
        sub.password,
        mac="AA:00:00:00:00:02",
        client_ip="10.5.50.11",
    )
    assert again.code == packet.AccessAccept
    row = await database.fetchone(
        "SELECT acctstoptime, acctinputoctets, acctoutputoctets FROM radacct"
        " WHERE username = ? AND acctsessionid = 'sess-1'",
        (sub.username,),
    )
    assert row is not None and row["acctstoptime"] is not None
    assert (row["acctinputoctets"], row["acctoutputoctets"]) == (1000, 5000)


async def test_provision_job_is_idempotent(settings: Settings, database: Database) -> None:
    tenant = await make_tenant(database, "twice")
    plan = await make_plan(database, tenant)
    sub = await make_pending_subscription(database, tenant, plan)
    published: list[str] = []

    class Recorder:
        async def publish(self, channel: str, message: str) -> None:
            published.append(message)

    ctx: dict[str, Any] = {SETTINGS: settings, DB: database, "redis": Recorder()}
    first = await provision_hotspot_user(ctx, sub.id)
    second = await provision_hotspot_user(ctx, sub.id)
    assert first["status"] == "active" and second["status"] == "active"
    assert second.get("expires_at") is None  # the re-run changed nothing
    rows = await database.fetchall(
        "SELECT COUNT(*) AS n FROM radcheck"
        " WHERE username = ? AND attribute = 'Cleartext-Password'",
        (sub.username,),
    )
    assert rows[0]["n"] == 1
    events = await database.fetchall(
        "SELECT id FROM events WHERE subject = ?", (f"subscription:{sub.id}",)
    )
    assert len(events) == 1 and len(published) == 1


async def test_reconciler_reenqueues_pending_subscription_lost_by_redis(
    settings: Settings, database: Database, arq_redis: ArqRedis
) -> None:
    tenant = await make_tenant(database, "lostqueue")
    plan = await make_plan(database, tenant)
    sub = await make_pending_subscription(database, tenant, plan)
    # The purchase is recorded but its job never reached Redis (or Redis lost it).
    async with database.transaction() as conn:
        await conn.execute(
            "UPDATE subscriptions SET created_at = created_at - 600 WHERE id = ?", (sub.id,)
        )
    ctx: dict[str, Any] = {SETTINGS: settings, DB: database, "redis": arq_redis}
    assert await reconcile_pending_subscriptions(ctx) == 1
    async with running_worker(settings, "critical"):
        await _wait_status(database, tenant.id, sub.id, "active")


async def test_provision_retries_a_transient_fault_then_succeeds(
    make_settings: Any,
    settings: Settings,
    database: Database,
    arq_redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = make_settings(
        database={"path": str(settings.database.path)},
        worker={"retry_backoff_s": 0.05, "max_tries": 3, "poll_delay_s": 0.02},
    )
    tenant = await make_tenant(database, "flaky")
    plan = await make_plan(database, tenant)
    sub = await make_pending_subscription(database, tenant, plan)
    real_set_user = users.set_user
    calls: list[str] = []

    async def flaky_set_user(*args: Any, **kwargs: Any) -> None:
        calls.append("call")
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        await real_set_user(*args, **kwargs)

    monkeypatch.setattr(users, "set_user", flaky_set_user)
    async with running_worker(fast, "critical") as worker:
        await enqueue_provision_hotspot_user(arq_redis, fast, sub.id)
        await _wait_status(database, tenant.id, sub.id, "active")
    assert len(calls) == 2
    assert worker.jobs_retried == 1
    # The failed try rolled back: one password row, one event.
    rows = await database.fetchall("SELECT * FROM radcheck WHERE username = ?", (sub.username,))
    assert [row["attribute"] for row in rows].count("Cleartext-Password") == 1
    events = await database.fetchall(
        "SELECT id FROM events WHERE subject = ?", (f"subscription:{sub.id}",)
    )
    assert len(events) == 1


async def test_provision_that_gave_up_is_requeued_by_the_reconciler(
    make_settings: Any,
    settings: Settings,
    database: Database,
    arq_redis: ArqRedis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = make_settings(
        database={"path": str(settings.database.path)},
        worker={"retry_backoff_s": 0.01, "max_tries": 2, "poll_delay_s": 0.02},
    )
    tenant = await make_tenant(database, "giveup")
    plan = await make_plan(database, tenant)
    sub = await make_pending_subscription(database, tenant, plan)
    real_set_user = users.set_user
    broken = True

    async def failing_set_user(*args: Any, **kwargs: Any) -> None:
        if broken:
            raise sqlite3.OperationalError("disk I/O error")
        await real_set_user(*args, **kwargs)

    monkeypatch.setattr(users, "set_user", failing_set_user)
    async with running_worker(fast, "critical") as worker:
        await enqueue_provision_hotspot_user(arq_redis, fast, sub.id)
        deadline = time.monotonic() + 10
        while worker.jobs_failed == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert worker.jobs_failed == 1
        stored = await subscriptions.get_subscription(database, tenant.id, sub.id)
        assert stored.status == "pending"  # nothing lost: still recorded as owed
        broken = False
        async with database.transaction() as conn:
            await conn.execute(
                "UPDATE subscriptions SET created_at = created_at - 600 WHERE id = ?", (sub.id,)
            )
        ctx: dict[str, Any] = {SETTINGS: fast, DB: database, "redis": arq_redis}
        assert await reconcile_pending_subscriptions(ctx) == 1
        await _wait_status(database, tenant.id, sub.id, "active")
