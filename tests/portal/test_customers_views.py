"""Customer search, usage from radacct and subscription actions through the real app (and the
real critical worker for the actions)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import subscriptions
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.subscriptions import Subscription
from hotspotd.store.tenants import Tenant
from tasks.vouchers import batch_vouchers, generate_voucher_batch
from tests.portal.conftest import login, make_admin
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.hotspot_box import until
from tests.support.worker import running_worker

Client = TestClient[Any, Any]


async def _setup(client: Client, db: Database, slug: str) -> tuple[Tenant, Subscription, str]:
    tenant = await make_tenant(db, slug)
    await make_admin(db, f"admin-{slug}", "admin", tenant.id)
    csrf = await login(client, f"admin-{slug}")
    plan = await make_plan(db, tenant, name="Day", validity_s=86400)
    sub = await make_pending_subscription(db, tenant, plan, phone=f"2547000{len(slug):05d}")
    now = int(time.time())
    async with db.transaction() as conn:
        await subscriptions.activate_subscription(
            conn, sub.id, starts_at=now - 600, expires_at=now + 3600
        )
        # Two sessions: one closed (10 min, 3 MB), one still open (5 min, 1 MB).
        await conn.executemany(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress,"
            " framedipaddress, callingstationid, acctstarttime, acctupdatetime, acctstoptime,"
            " acctsessiontime, acctinputoctets, acctoutputoctets, acctterminatecause)"
            " VALUES (?, ?, ?, '127.0.9.1', '10.5.50.7', 'AA:BB:CC:00:00:01', ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "s1",
                    f"u1-{sub.id}",
                    sub.username,
                    now - 600,
                    now,
                    now,
                    600,
                    1_000_000,
                    2_000_000,
                    "User-Request",
                ),
                (
                    "s2",
                    f"u2-{sub.id}",
                    sub.username,
                    now - 300,
                    now,
                    None,
                    300,
                    400_000,
                    600_000,
                    "",
                ),
            ],
        )
    stored = await subscriptions.get_subscription(db, tenant.id, sub.id)
    return tenant, stored, csrf


async def test_customers_search_and_usage(client: Client, database: Database) -> None:
    _, sub, _ = await _setup(client, database, "cone")
    resp = await client.get("/api/customers", params={"q": "2547000"})
    hits = (await resp.json())["customers"]
    assert [h["customer"]["id"] for h in hits] == [sub.customer_id]
    assert hits[0]["latest_status"] == "active"
    by_username = await (await client.get("/api/customers", params={"q": sub.username})).json()
    assert len(by_username["customers"]) == 1
    nothing = await (await client.get("/api/customers", params={"q": "%"})).json()
    assert nothing["customers"] == []

    detail = await (await client.get(f"/api/customers/{sub.customer_id}")).json()
    (entry,) = detail["subscriptions"]
    assert "password" not in entry
    assert entry["plan_name"] == "Day"
    usage = entry["usage"]
    assert usage["session_time_s"] == 900 and usage["octets"] == 4_000_000
    assert usage["online"] is True and len(usage["sessions"]) == 2

    page = await (await client.get(f"/admin/customers/{sub.customer_id}")).text()
    assert "15 min" in page and sub.username in page
    search = await (await client.get("/admin/customers", params={"q": "2547000"})).text()
    assert f'data-customer-id="{sub.customer_id}"' in search


async def test_customers_isolated_between_tenants(client: Client, database: Database) -> None:
    _, foreign, _ = await _setup(client, database, "ctheirs")
    _, _, csrf = await _setup(client, database, "cmine2")
    assert (await client.get(f"/api/customers/{foreign.customer_id}")).status == 404
    resp = await client.post(
        f"/api/subscriptions/{foreign.id}/suspend", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 404
    hits = await (await client.get("/api/customers", params={"q": foreign.username})).json()
    assert hits["customers"] == []


async def test_subscription_actions_through_the_worker(
    client: Client, database: Database, settings: Settings
) -> None:
    _, sub, csrf = await _setup(client, database, "cact")
    headers = {"X-CSRF-Token": csrf}

    async def status_is(status: str) -> bool:
        current = await subscriptions.get_subscription(database, sub.tenant_id, sub.id)
        return current.status == status

    resp = await client.post(
        f"/api/subscriptions/{sub.id}/extend", json={"extend_s": "soon"}, headers=headers
    )
    assert resp.status == 422 and "extend_s" in (await resp.json())["fields"]
    assert (
        await client.post(f"/api/subscriptions/{sub.id}/explode", headers=headers)
    ).status == 404

    async with running_worker(settings, "critical"):
        resp = await client.post(f"/api/subscriptions/{sub.id}/suspend", headers=headers)
        assert resp.status == 202
        assert (await resp.json())["job_id"] == f"suspend:{sub.id}"
        await until(lambda: status_is("suspended"))
        resp = await client.post(f"/api/subscriptions/{sub.id}/resume", headers=headers)
        assert resp.status == 202
        await until(lambda: status_is("active"))
        resp = await client.post(
            f"/api/subscriptions/{sub.id}/extend", json={"extend_s": 3600}, headers=headers
        )
        assert resp.status == 202

        async def extended() -> bool:
            current = await subscriptions.get_subscription(database, sub.tenant_id, sub.id)
            return current.expires_at == (sub.expires_at or 0) + 3600

        await until(extended)
    types = await database.fetchall(
        "SELECT type FROM events WHERE subject = ? ORDER BY id", (f"subscription:{sub.id}",)
    )
    assert [t["type"] for t in types] == [
        "AccountSuspended",
        "AccountResumed",
        "SubscriptionRenewed",
    ]


async def test_customers_page_finds_a_voucher_code(
    client: Client, database: Database, settings: Settings
) -> None:
    tenant, _, _ = await _setup(client, database, "cvouch")
    plan = await make_plan(database, tenant, validity_s=3600)
    async with database.transaction() as conn:
        batch = await voucher_store.record_batch_request(
            conn,
            tenant.id,
            voucher_store.BatchParams(
                plan_id=plan.id, count=2, price_cents=100, currency="KES", validity_s=3600
            ),
        )
    await generate_voucher_batch(database, settings, batch.id)
    code = (await batch_vouchers(database, batch))[0].code
    page = await (await client.get("/admin/customers", params={"q": code})).text()
    assert f'data-code="{code}"' in page and 'data-status="unused"' in page
    voucher = await (await client.get(f"/api/vouchers/{code}")).json()
    assert voucher["status"] == "unused" and voucher["batch_id"] == batch.id
