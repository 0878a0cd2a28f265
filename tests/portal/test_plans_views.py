"""The plans API and admin page through the real app: tenant isolation, validation, the RADIUS
group following every change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import plans, tenants
from hotspotd.store import vouchers as voucher_store
from tasks.queues import queue_name
from tasks.vouchers import generate_voucher_batch
from tests.portal.conftest import login, make_admin, make_tenant
from tests.support.domain import make_pending_subscription

Client = TestClient[Any, Any]

BODY: dict[str, Any] = {
    "name": "Daily",
    "price_cents": 5000,
    "currency": "KES",
    "validity_s": 86400,
    "rate_limit": "2M/5M",
    "shared_devices": 2,
    "data_quota_bytes": 1_000_000_000,
}


async def _admin(client: Client, db: Database, slug: str, role: str = "admin") -> tuple[int, str]:
    tenant_id = await make_tenant(db, slug)
    await make_admin(db, f"{role}-{slug}", role, tenant_id)  # type: ignore[arg-type]
    return tenant_id, await login(client, f"{role}-{slug}")


async def _group(db: Database, plan_id: int) -> dict[str, str]:
    rows = await db.fetchall(
        "SELECT attribute, value FROM radgroupcheck WHERE groupname = ?"
        " UNION ALL SELECT attribute, value FROM radgroupreply WHERE groupname = ?",
        (f"plan-{plan_id}", f"plan-{plan_id}"),
    )
    return {row["attribute"]: row["value"] for row in rows}


async def test_plans_api_create_edit_delete_with_radius_group(
    client: Client, database: Database
) -> None:
    tenant_id, csrf = await _admin(client, database, "alpha")
    headers = {"X-CSRF-Token": csrf}

    resp = await client.post("/api/plans", json=BODY, headers=headers)
    assert resp.status == 201, await resp.text()
    plan = await resp.json()
    assert plan["tenant_id"] == tenant_id and plan["active"] and not plan["hidden"]
    assert resp.headers["Location"] == f"/api/plans/{plan['id']}"
    assert await _group(database, plan["id"]) == {
        "Simultaneous-Use": "2",
        "Hotspot-Plan-Data-Quota": "1000000000",
        "Acct-Interim-Interval": "300",
        "Mikrotik-Rate-Limit": "2M/5M",
    }

    resp = await client.patch(
        f"/api/plans/{plan['id']}",
        json={"rate_limit": "4M/8M", "hidden": True, "data_quota_bytes": None},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    edited = await resp.json()
    assert edited["hidden"] and edited["rate_limit"] == "4M/8M" and edited["name"] == "Daily"
    group = await _group(database, plan["id"])
    assert group["Mikrotik-Rate-Limit"] == "4M/8M"
    assert "Hotspot-Plan-Data-Quota" not in group

    resp = await client.get("/api/plans")
    assert [p["id"] for p in (await resp.json())["plans"]] == [plan["id"]]

    resp = await client.delete(f"/api/plans/{plan['id']}", headers=headers)
    assert resp.status == 204
    assert await _group(database, plan["id"]) == {}
    events = await database.fetchall(
        "SELECT type FROM events WHERE subject = ? ORDER BY id", (f"plan:{plan['id']}",)
    )
    assert [e["type"] for e in events] == ["PlanSaved", "PlanSaved", "PlanDeleted"]


async def test_plans_are_isolated_between_tenants(client: Client, database: Database) -> None:
    _, csrf = await _admin(client, database, "beta")
    other = await make_tenant(database, "gamma")
    async with database.transaction() as conn:
        foreign = await plans.create_plan(
            conn, other, name="Theirs", price_cents=1, currency="KES", validity_s=60
        )
    headers = {"X-CSRF-Token": csrf}

    assert (await client.get(f"/api/plans/{foreign.id}")).status == 404
    resp = await client.patch(f"/api/plans/{foreign.id}", json={"name": "x"}, headers=headers)
    assert resp.status == 404
    assert (await client.delete(f"/api/plans/{foreign.id}", headers=headers)).status == 404
    assert (await (await client.get("/api/plans")).json())["plans"] == []
    # A tenant admin cannot create a plan for another tenant: tenant_id is ignored.
    resp = await client.post("/api/plans", json={**BODY, "tenant_id": other}, headers=headers)
    assert resp.status == 201
    assert (await resp.json())["tenant_id"] != other


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"price_cents": -1}, "price_cents"),
        ({"currency": "kes"}, "currency"),
        ({"validity_s": 0}, "validity_s"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"shared_devices": 0}, "shared_devices"),
        ({"data_quota_bytes": 0}, "data_quota_bytes"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_plans_api_rejects_invalid_input(
    client: Client, database: Database, change: dict[str, Any], field: str
) -> None:
    _, csrf = await _admin(client, database, "delta")
    resp = await client.post("/api/plans", json={**BODY, **change}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 422
    assert field in (await resp.json())["fields"]
    assert await database.fetchall("SELECT id FROM plans") == []


async def test_plans_api_conflicts(client: Client, database: Database) -> None:
    tenant_id, csrf = await _admin(client, database, "eps")
    headers = {"X-CSRF-Token": csrf}
    first = await (await client.post("/api/plans", json=BODY, headers=headers)).json()
    assert (await client.post("/api/plans", json=BODY, headers=headers)).status == 409
    # A plan with subscriptions cannot be deleted (hide it instead).
    tenant = await tenants.get_tenant(database, tenant_id)
    plan = await plans.get_plan(database, tenant_id, first["id"])
    await make_pending_subscription(database, tenant, plan)
    resp = await client.delete(f"/api/plans/{first['id']}", headers=headers)
    assert resp.status == 409


async def test_plans_staff_can_read_not_write(client: Client, database: Database) -> None:
    _, csrf = await _admin(client, database, "zeta", role="staff")
    assert (await client.get("/api/plans")).status == 200
    resp = await client.post("/api/plans", json=BODY, headers={"X-CSRF-Token": csrf})
    assert resp.status == 403


async def test_plans_page_create_and_edit_through_forms(client: Client, database: Database) -> None:
    tenant_id, _ = await _admin(client, database, "eta")
    page = await client.get("/admin/plans")
    assert page.status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "name": "Hour",
        "price": "20.50",
        "currency": "kes",
        "validity": "1",
        "validity_unit": "hours",
        "data_quota_mb": "",
        "rate_limit": "1M/2M",
        "shared_devices": "1",
        "active": "on",
    }
    resp = await client.post("/admin/plans", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    (plan,) = await plans.list_plans_scoped(database, tenant_id)
    assert (plan.price_cents, plan.currency, plan.validity_s) == (2050, "KES", 3600)
    assert plan.data_quota_bytes is None and plan.active and not plan.hidden

    edit = await client.get(f"/admin/plans/{plan.id}")
    assert edit.status == 200 and 'value="20.50"' in await edit.text()
    bad = await client.post(
        f"/admin/plans/{plan.id}", data={**form, "price": "abc"}, allow_redirects=False
    )
    assert bad.status == 422 and 'data-field-error="price"' in await bad.text()
    resp = await client.post(
        f"/admin/plans/{plan.id}",
        data={**form, "validity": "2", "validity_unit": "days", "hidden": "on"},
        allow_redirects=False,
    )
    assert resp.status == 303
    stored = await plans.get_plan(database, tenant_id, plan.id)
    assert stored.validity_s == 2 * 86400 and stored.hidden
    listing = await (await client.get("/admin/plans")).text()
    assert "Hour" in listing and "2 d" in listing and "hidden" in listing


async def test_plan_with_vouchers_cannot_be_deleted(
    client: Client, database: Database, settings: Settings
) -> None:
    tenant_id, csrf = await _admin(client, database, "theta")
    headers = {"X-CSRF-Token": csrf}
    plan = await (await client.post("/api/plans", json=BODY, headers=headers)).json()
    async with database.transaction() as conn:
        batch = await voucher_store.record_batch_request(
            conn,
            tenant_id,
            voucher_store.BatchParams(
                plan_id=plan["id"], count=1, price_cents=1, currency="KES", validity_s=60
            ),
        )
    await generate_voucher_batch(database, settings, batch.id)
    resp = await client.delete(f"/api/plans/{plan['id']}", headers=headers)
    assert resp.status == 409
    assert "Simultaneous-Use" in await _group(database, plan["id"])


async def test_plans_api_edit_can_queue_push_to_live_sessions(
    client: Client, database: Database, settings: Settings
) -> None:
    _, csrf = await _admin(client, database, "delta")
    headers = {"X-CSRF-Token": csrf}
    resp = await client.post("/api/plans", json=BODY, headers=headers)
    plan = await resp.json()
    resp = await client.patch(
        f"/api/plans/{plan['id']}",
        json={"rate_limit": "6M/6M", "push_to_live_sessions": True},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["rate_limit"] == "6M/6M" and body["push_job_id"] == f"plan-limits:{plan['id']}"
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value())
    try:
        queued = await redis.zrange(queue_name(settings.redis.key_prefix, "critical"), 0, -1)
    finally:
        await redis.aclose()
    assert f"plan-limits:{plan['id']}".encode() in queued
