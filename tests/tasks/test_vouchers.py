"""Vouchers: batch generation through the real general worker, login through the simulated
router's login servlet against a real FreeRADIUS, status, revocation, batch expiry."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from arq.connections import ArqRedis
from pyrad import packet

from hotspotd.db import Database
from hotspotd.events import events_channel
from hotspotd.settings import Settings
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.plans import Plan
from hotspotd.store.tenants import Tenant
from hotspotd.store.vouchers import ALPHABET, BatchParams, VoucherBatch
from radius.accounting import open_sessions
from radius.vouchers import VoucherRadiusState, create_voucher_users
from routers.simulator.run import RunningRouter
from tasks.expiry import expire_due_subscriptions
from tasks.voucher_enqueue import enqueue_generate_vouchers, enqueue_revoke_voucher
from tasks.vouchers import batch_vouchers, generate_voucher_batch, voucher_status
from tests.support.domain import make_plan, make_tenant
from tests.support.fake_radius import wait_until
from tests.support.freeradius import RadiusServer, reply_value
from tests.support.hotspot_box import registered_router, until
from tests.support.worker import running_worker


async def _batch(
    db: Database, tenant: Tenant, plan: Plan, count: int, **params: Any
) -> VoucherBatch:
    values: dict[str, Any] = {
        "plan_id": plan.id,
        "count": count,
        "price_cents": plan.price_cents,
        "currency": plan.currency,
        "validity_s": plan.validity_s,
    }
    values.update(params)
    async with db.transaction() as conn:
        return await voucher_store.record_batch_request(
            conn, tenant.id, BatchParams.model_validate(values)
        )


async def _pap(radius_server: RadiusServer, code: str) -> Any:
    def call() -> Any:
        with radius_server.client() as client:
            return client.pap(code, code)

    return await asyncio.to_thread(call)


async def test_voucher_batch_job_makes_codes_with_progress_events(
    e2e_settings: Settings, e2e_db: Database, arq_pool: ArqRedis, tenant: Tenant
) -> None:
    plan = await make_plan(e2e_db, tenant, validity_s=7200)
    batch = await _batch(e2e_db, tenant, plan, 2500, prefix="CAFE-", code_length=6)
    pubsub = arq_pool.pubsub()
    await pubsub.subscribe(events_channel(e2e_settings.redis.key_prefix))
    seen: list[dict[str, Any]] = []
    try:
        async with running_worker(e2e_settings, "general"):
            job_id = await enqueue_generate_vouchers(arq_pool, e2e_settings, batch.id)
            deadline = time.monotonic() + 30
            while not any(e["type"] == "VoucherBatchCreated" for e in seen):
                assert time.monotonic() < deadline, seen
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                if message is not None:
                    seen.append(json.loads(message["data"]))
    finally:
        await pubsub.aclose()
    assert job_id == f"vouchers:{batch.id}"
    progress = [e["payload"]["created"] for e in seen if e["type"] == "VoucherBatchProgress"]
    assert progress == [1000, 2000, 2500]

    stored = await voucher_store.get_batch(e2e_db, tenant.id, batch.id)
    assert stored.state == "done" and stored.created == 2500
    vouchers = await batch_vouchers(e2e_db, stored)
    codes = [v.code for v in vouchers]
    assert len(set(codes)) == 2500
    assert all(c.startswith("CAFE-") and len(c) == 11 for c in codes)
    assert all(set(c[5:]) <= set(ALPHABET) for c in codes)
    assert {v.status for v in vouchers} == {"unused"}
    assert {v.validity_s for v in vouchers} == {7200}
    # Another tenant cannot see it.
    other = await make_tenant(e2e_db, "vouchers-other-tenant")
    assert [b.id for b in await voucher_store.list_batches(e2e_db, other.id)] == []


async def test_voucher_generation_resumes_after_a_crash(
    e2e_settings: Settings, e2e_db: Database, tenant: Tenant
) -> None:
    plan = await make_plan(e2e_db, tenant)
    batch = await _batch(e2e_db, tenant, plan, 1500)
    # A first run died after writing 400 codes.
    async with e2e_db.transaction() as conn:
        await create_voucher_users(
            conn,
            [f"CRASH{i:04d}" for i in range(400)],
            plan_group=plan.radius_group,
            batch_id=batch.id,
            validity_s=plan.validity_s,
            expires_at=None,
        )
    result = await generate_voucher_batch(e2e_db, e2e_settings, batch.id)
    again = await generate_voucher_batch(e2e_db, e2e_settings, batch.id)
    assert result["created"] == 1500 and again["state"] == "done"
    assert len(await batch_vouchers(e2e_db, batch)) == 1500


async def test_voucher_logs_in_through_router_and_revoke_cuts_it_off(
    e2e_settings: Settings,
    e2e_db: Database,
    arq_pool: ArqRedis,
    tenant: Tenant,
    radius_server: RadiusServer,
) -> None:
    plan = await make_plan(e2e_db, tenant, validity_s=1800, rate_limit="1M/2M")
    batch = await _batch(e2e_db, tenant, plan, 3)
    await generate_voucher_batch(e2e_db, e2e_settings, batch.id)
    code = (await batch_vouchers(e2e_db, batch))[0].code

    async with registered_router(e2e_db, e2e_settings, tenant) as router:
        client = router.arrive()
        attempt = await client.login(code, code)
        assert attempt.ok, attempt
        session = client.session
        assert session is not None and session.rate_limit == "1M/2M"
        assert session.session_deadline is not None

        async def started() -> bool:
            return bool(await open_sessions(e2e_db, code))

        await until(started)
        (voucher,) = await batch_vouchers(e2e_db, batch, code=code)
        assert voucher.status == "active" and voucher.online
        assert voucher.ends_at is not None and voucher.first_login is not None
        assert voucher.ends_at == voucher.first_login + 1800

        async with running_worker(e2e_settings, "critical"):
            await enqueue_revoke_voucher(arq_pool, e2e_settings, code)
            await wait_until(lambda: not client.logged_in, timeout_s=20)
        assert session.end_cause == "Admin-Reset"
        assert not (await client.login(code, code)).ok
        assert await _router_saw_disconnect(router)

    (voucher,) = await batch_vouchers(e2e_db, batch, code=code)
    assert voucher.status == "revoked"
    # The other codes of the batch still work.
    other = (await batch_vouchers(e2e_db, batch))[1].code
    reply = await _pap(radius_server, other)
    assert reply.code == packet.AccessAccept
    assert 0 < reply_value(reply, "Session-Timeout") <= 1800


async def _router_saw_disconnect(router: RunningRouter) -> bool:
    return (packet.DisconnectRequest, packet.DisconnectACK) in router.incoming.handled


async def test_voucher_batch_expiry_is_enforced_by_freeradius(
    e2e_settings: Settings, e2e_db: Database, tenant: Tenant, radius_server: RadiusServer
) -> None:
    plan = await make_plan(e2e_db, tenant)
    batch = await _batch(e2e_db, tenant, plan, 2, expires_at=int(time.time()) - 60)
    await generate_voucher_batch(e2e_db, e2e_settings, batch.id)
    vouchers = await batch_vouchers(e2e_db, batch)
    assert {v.status for v in vouchers} == {"expired"}
    assert (await _pap(radius_server, vouchers[0].code)).code == packet.AccessReject


@pytest.mark.parametrize(
    ("state", "quota", "expected"),
    [
        ({}, None, "unused"),
        ({"first_login": 1000}, None, "active"),
        ({"first_login": 1000 - 3600}, None, "used_up"),
        ({"first_login": 1000, "octets": 500}, 500, "used_up"),
        ({"revoked": True, "first_login": 1000}, None, "revoked"),
    ],
)
def test_voucher_status_from_radius_state(
    state: dict[str, Any], quota: int | None, expected: str
) -> None:
    values: dict[str, Any] = {
        "code": "X",
        "validity_s": 3600,
        "expiration": None,
        "revoked": False,
        "first_login": None,
        "last_seen": None,
        "session_time_s": 0,
        "octets": 0,
        "online": False,
    }
    values.update(state)
    batch = VoucherBatch(
        id=1,
        tenant_id=1,
        params=BatchParams(plan_id=1, count=1, price_cents=0, currency="KES", validity_s=3600),
        state="done",
        created=1,
        created_at=0,
    )
    voucher = voucher_status(
        VoucherRadiusState(**values), batch=batch, data_quota_bytes=quota, now=1000
    )
    assert voucher.status == expected


async def test_expiry_run_disconnects_voucher_past_its_validity(
    e2e_settings: Settings, e2e_db: Database, tenant: Tenant
) -> None:
    plan = await make_plan(e2e_db, tenant, validity_s=1800)
    batch = await _batch(e2e_db, tenant, plan, 1)
    await generate_voucher_batch(e2e_db, e2e_settings, batch.id)
    (voucher,) = await batch_vouchers(e2e_db, batch)
    code = voucher.code

    async with registered_router(e2e_db, e2e_settings, tenant) as router:
        client = router.arrive()
        assert (await client.login(code, code)).ok

        async def started() -> bool:
            return bool(await open_sessions(e2e_db, code))

        await until(started)
        result = await expire_due_subscriptions(e2e_db, e2e_settings)
        assert result["vouchers_kicked"] == 0 and client.logged_in
        # The first login moves half an hour back: the validity has run out.
        async with e2e_db.transaction() as conn:
            await conn.execute(
                "UPDATE radacct SET acctstarttime = acctstarttime - 1800 WHERE username = ?",
                (code,),
            )
        result = await expire_due_subscriptions(e2e_db, e2e_settings)
        assert result["vouchers_kicked"] == 1
        await wait_until(lambda: not client.logged_in, timeout_s=10)
        assert await _router_saw_disconnect(router)
    (voucher,) = await batch_vouchers(e2e_db, batch)
    assert voucher.status == "used_up"
