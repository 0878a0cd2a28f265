"""FreeRADIUS keeps answering correctly while the worker provisions users."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from arq.connections import create_pool
from pyrad import packet
from pyrad.client import Timeout

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import subscriptions
from hotspotd.store.subscriptions import Subscription
from tasks.enqueue import enqueue_provision_hotspot_user
from tasks.worker import redis_settings
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.freeradius import RadiusServer
from tests.support.worker import running_worker

EXISTING_USERS = 40
NEW_USERS = 300
LOAD_THREADS = 4


def _hammer(
    radius_server: RadiusServer,
    users: list[Subscription],
    stop: threading.Event,
    results: Counter[str],
    lock: threading.Lock,
) -> None:
    with radius_server.client() as client:
        i = 0
        while not stop.is_set():
            sub = users[i % len(users)]
            i += 1
            try:
                reply = client.pap(sub.username, sub.password)
                outcome = "accept" if reply.code == packet.AccessAccept else "reject"
            except Timeout:
                outcome = "timeout"
            with lock:
                results[outcome] += 1


async def test_freeradius_answers_steadily_while_worker_provisions(
    settings: Settings, database: Database, radius_server: RadiusServer
) -> None:
    tenant = await make_tenant(database, "busy")
    plan = await make_plan(database, tenant, shared_devices=100)
    existing = [
        await make_pending_subscription(database, tenant, plan) for _ in range(EXISTING_USERS)
    ]
    new = [await make_pending_subscription(database, tenant, plan) for _ in range(NEW_USERS)]
    redis = await create_pool(redis_settings(settings))
    results: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    try:
        async with running_worker(settings, "critical"):
            for sub in existing:
                await enqueue_provision_hotspot_user(redis, settings, sub.id)
            await _wait_all_active(database, tenant.id, existing)
            threads = [
                threading.Thread(
                    target=_hammer, args=(radius_server, existing, stop, results, lock)
                )
                for _ in range(LOAD_THREADS)
            ]
            for thread in threads:
                thread.start()
            try:
                await asyncio.sleep(0.3)
                before = sum(results.values())
                started = time.monotonic()
                for sub in new:
                    await enqueue_provision_hotspot_user(redis, settings, sub.id)
                await _wait_all_active(database, tenant.id, new)
                during = sum(results.values()) - before
                elapsed = time.monotonic() - started
            finally:
                stop.set()
                for thread in threads:
                    await asyncio.to_thread(thread.join)
    finally:
        await redis.aclose()

    assert results["reject"] == 0, results
    assert results["timeout"] == 0, results
    assert during > 0 and elapsed > 0, "the load ran while provisioning"
    # Every newly provisioned user is accepted right away.
    with radius_server.client() as client:
        codes = Counter(client.pap(s.username, s.password).code for s in new)
    assert codes == Counter({packet.AccessAccept: NEW_USERS})


async def _wait_all_active(
    db: Database, tenant_id: int, subs: list[Subscription], timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    ids = {s.id for s in subs}
    while time.monotonic() < deadline:
        rows = await db.fetchall(
            "SELECT id FROM subscriptions WHERE tenant_id = ? AND status = 'active'", (tenant_id,)
        )
        if ids <= {row["id"] for row in rows}:
            return
        await asyncio.sleep(0.05)
    done = [
        s.id
        for s in subs
        if (await subscriptions.get_subscription(db, tenant_id, s.id)).status == "active"
    ]
    raise AssertionError(f"only {len(done)} of {len(subs)} subscriptions active")
