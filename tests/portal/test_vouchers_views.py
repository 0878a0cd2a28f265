"""The vouchers API and admin pages through the real app and the real general worker."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import plans
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.plans import Plan
from portal import vouchers_views
from portal.voucher_qr import qr_svg
from tests.portal.conftest import login, make_admin, make_tenant
from tests.support.hotspot_box import until
from tests.support.worker import running_worker

Client = TestClient[Any, Any]


async def _admin(client: Client, db: Database, slug: str) -> tuple[int, str]:
    tenant_id = await make_tenant(db, slug)
    await make_admin(db, f"admin-{slug}", "admin", tenant_id)
    return tenant_id, await login(client, f"admin-{slug}")


async def _plan(db: Database, tenant_id: int, name: str = "Hour") -> Plan:
    async with db.transaction() as conn:
        return await plans.create_plan(
            conn, tenant_id, name=name, price_cents=2000, currency="KES", validity_s=3600
        )


async def _done(db: Database, tenant_id: int, batch_id: int) -> None:
    async def done() -> bool:
        batch = await voucher_store.get_batch(db, tenant_id, batch_id)
        return batch.state == "done"

    await until(done, timeout_s=30)


async def test_vouchers_api_batch_csv_print_and_revoke(
    client: Client, database: Database, settings: Settings
) -> None:
    tenant_id, csrf = await _admin(client, database, "vone")
    plan = await _plan(database, tenant_id)
    headers = {"X-CSRF-Token": csrf}

    async with running_worker(settings, "general"):
        resp = await client.post(
            "/api/voucher-batches",
            json={"plan_id": plan.id, "count": 25, "prefix": "HOT-", "code_length": 6},
            headers=headers,
        )
        assert resp.status == 202, await resp.text()
        body = await resp.json()
        assert body["job_id"] == f"vouchers:{body['batch_id']}"
        await _done(database, tenant_id, body["batch_id"])
    batch_id = body["batch_id"]

    resp = await client.get(f"/api/voucher-batches/{batch_id}")
    detail = await resp.json()
    assert detail["state"] == "done" and detail["created"] == 25
    assert detail["price_cents"] == 2000 and detail["validity_s"] == 3600
    assert detail["counts"] == {
        "unused": 25,
        "active": 0,
        "used_up": 0,
        "expired": 0,
        "revoked": 0,
    }
    codes = [v["code"] for v in detail["vouchers"]]
    assert all(re.fullmatch(r"HOT-[A-Z0-9]{6}", c) for c in codes)

    listed = await (await client.get("/api/voucher-batches")).json()
    assert [b["id"] for b in listed["batches"]] == [batch_id]

    resp = await client.get(f"/api/voucher-batches/{batch_id}/vouchers.csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert sorted(r["code"] for r in rows) == sorted(codes)
    assert {(r["status"], r["price"], r["currency"]) for r in rows} == {("unused", "20.00", "KES")}

    sheet = await (await client.get(f"/admin/vouchers/{batch_id}/print")).text()
    assert all(f'data-code="{c}"' in sheet for c in codes)
    assert "20.00 KES" in sheet and "1 hour(s)" in sheet
    page = await (await client.get(f"/admin/vouchers/{batch_id}")).text()
    assert codes[0] in page

    resp = await client.post(f"/api/vouchers/{codes[0]}/revoke", headers=headers)
    assert resp.status == 202
    assert (await resp.json())["job_id"] == f"revoke-voucher:{codes[0]}"
    resp = await client.post("/api/vouchers/NOT-A-CODE/revoke", headers=headers)
    assert resp.status == 404


async def test_vouchers_are_isolated_between_tenants(
    client: Client, database: Database, settings: Settings
) -> None:
    other_id = await make_tenant(database, "vother")
    other_plan = await _plan(database, other_id)
    async with database.transaction() as conn:
        foreign = await voucher_store.record_batch_request(
            conn,
            other_id,
            voucher_store.BatchParams(
                plan_id=other_plan.id, count=1, price_cents=1, currency="KES", validity_s=60
            ),
        )
    _, csrf = await _admin(client, database, "vmine")
    headers = {"X-CSRF-Token": csrf}
    assert (await client.get(f"/api/voucher-batches/{foreign.id}")).status == 404
    assert (await client.get(f"/api/voucher-batches/{foreign.id}/vouchers.csv")).status == 404
    assert (await client.get(f"/admin/vouchers/{foreign.id}/print")).status == 404
    assert (await (await client.get("/api/voucher-batches")).json())["batches"] == []
    # Another tenant's plan cannot be used.
    resp = await client.post(
        "/api/voucher-batches", json={"plan_id": other_plan.id, "count": 1}, headers=headers
    )
    assert resp.status == 422 and "plan_id" in (await resp.json())["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 10_001}, "count"),
        ({"prefix": "ab"}, "prefix"),
        ({"prefix": "TOO-LONG-PREFIX"}, "prefix"),
        ({"code_length": 5}, "code_length"),
        ({"expires_at": 1}, "expires_at"),
        ({"price_cents": -1}, "price_cents"),
    ],
)
async def test_vouchers_api_rejects_invalid_batches(
    client: Client, database: Database, change: dict[str, Any], field: str
) -> None:
    tenant_id, csrf = await _admin(client, database, "vbad")
    plan = await _plan(database, tenant_id)
    resp = await client.post(
        "/api/voucher-batches",
        json={"plan_id": plan.id, "count": 10, **change},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 422
    assert field in (await resp.json())["fields"]
    assert await voucher_store.list_batches(database, tenant_id) == []


async def test_vouchers_page_form_queues_a_batch(
    client: Client, database: Database, settings: Settings
) -> None:
    tenant_id, _ = await _admin(client, database, "vform")
    plan = await _plan(database, tenant_id)
    page = await client.get("/admin/vouchers")
    assert page.status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token is not None
    form = {
        "csrf_token": token.group(1),
        "plan_id": str(plan.id),
        "count": "3",
        "prefix": "x1",
        "code_length": "8",
        "price": "15",
        "expires_on": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400)),
    }
    resp = await client.post("/admin/vouchers", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    (batch,) = await voucher_store.list_batches(database, tenant_id)
    assert resp.headers["Location"] == f"/admin/vouchers/{batch.id}"
    assert batch.params.prefix == "X1" and batch.params.price_cents == 1500
    assert batch.params.expires_at is not None and batch.params.expires_at > time.time()
    bad = await client.post("/admin/vouchers", data={**form, "count": "many"})
    assert bad.status == 422 and 'data-field-error="count"' in await bad.text()


async def test_vouchers_print_sheet_has_a_qr_code_per_card_in_pages(
    client: Client, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, csrf = await _admin(client, database, "vqr")
    plan = await _plan(database, tenant_id)
    async with running_worker(settings, "general"):
        resp = await client.post(
            "/api/voucher-batches",
            json={"plan_id": plan.id, "count": 5, "code_length": 8},
            headers={"X-CSRF-Token": csrf},
        )
        batch_id = (await resp.json())["batch_id"]
        await _done(database, tenant_id, batch_id)
    monkeypatch.setattr(vouchers_views, "PRINT_PAGE", 2)

    seen: list[str] = []
    for page in (1, 2, 3):
        sheet = await (await client.get(f"/admin/vouchers/{batch_id}/print?page={page}")).text()
        codes = re.findall(r'data-code="([^"]+)"', sheet)
        assert len(codes) == (2 if page < 3 else 1)
        assert sheet.count("<svg") == len(codes)
        assert f"sheet {page} of 3" in sheet
        for code in codes:
            url = f"{settings.portal.public_url}/portal/vqr?voucher={code}"
            assert qr_svg(url) in sheet  # the QR code opens the portal with this code
        seen += codes
    assert len(set(seen)) == 5
