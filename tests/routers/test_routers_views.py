"""The routers API and admin page through the real app (auth, CSRF, status codes)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store.tenants import Tenant
from portal.app import create_app
from routers.simulator.run import RunningRouter
from tests.portal.conftest import login, make_admin, make_tenant
from tests.routers.conftest import ROUTER_PASSWORD, StartRouter

Client = TestClient[Any, Any]


@pytest.fixture
async def box_client(
    box_settings: Settings,
    box_db: Database,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Client:
    return await aiohttp_client(create_app(box_settings))


async def _signed_in(client: Client, db: Database, tenant: Tenant, role: str) -> str:
    name = f"{role}-{tenant.slug}"
    await make_admin(db, name, role, tenant.id)  # type: ignore[arg-type]
    return await login(client, name)


def _body(router: RunningRouter, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"site-{router.config.identity}",
        "host": router.address,
        "api_port": router.api_port,
        "username": "admin",
        "password": ROUTER_PASSWORD,
    }
    body.update(overrides)
    return body


async def test_api_register_list_sync_and_kick(
    box_client: Client, box_db: Database, box_tenant: Tenant, box_router: StartRouter
) -> None:
    router = await box_router(identity="gate")
    csrf = await _signed_in(box_client, box_db, box_tenant, "admin")
    headers = {"X-CSRF-Token": csrf}

    resp = await box_client.post("/api/routers", json=_body(router), headers=headers)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    router_id = body["router"]["id"]
    assert resp.headers["Location"] == f"/api/routers/{router_id}"
    assert body["router"]["identity"] == "gate"
    assert body["router"]["status"] == "online"
    assert body["configured"]["incoming"]["accept"] == "true"
    assert "password" not in str(body) and ROUTER_PASSWORD not in str(body)

    resp = await box_client.get("/api/routers")
    listed = (await resp.json())["routers"]
    assert [(r["id"], r["status"], r["session_count"]) for r in listed] == [
        (router_id, "online", 0)
    ]

    resp = await box_client.post(f"/api/routers/{router_id}/sync", headers=headers)
    assert resp.status == 202
    assert (await resp.json())["job_id"] == f"sync-router:{router_id}"

    resp = await box_client.post(
        "/api/sessions/kick",
        json={"router_id": router_id, "username": "u1", "address": "10.5.50.9"},
        headers=headers,
    )
    assert resp.status == 202
    assert (await resp.json())["job_id"] == f"kick:{router_id}:u1:10.5.50.9"

    resp = await box_client.post(
        "/api/sessions/kick", json={"router_id": router_id}, headers=headers
    )
    assert resp.status == 422
    assert "username" in (await resp.json())["fields"]


@pytest.mark.parametrize(
    ("case", "status", "kind", "words"),
    [
        ("invalid", 422, None, "invalid input"),
        ("wrong-password", 502, "login", "login refused"),
        ("hangs", 504, "timeout", "no answer"),
        ("duplicate", 409, "conflict", "already registered"),
    ],
)
async def test_api_register_errors(
    box_client: Client,
    box_db: Database,
    box_tenant: Tenant,
    box_router: StartRouter,
    case: str,
    status: int,
    kind: str | None,
    words: str,
) -> None:
    router = await box_router()
    csrf = await _signed_in(box_client, box_db, box_tenant, "admin")
    headers = {"X-CSRF-Token": csrf}
    body = _body(router)
    if case == "invalid":
        body.update(host="not a host", api_port=0)
    elif case == "wrong-password":
        body["password"] = "nope-nope"
    elif case == "hangs":
        router.api.hang = True
    elif case == "duplicate":
        resp = await box_client.post("/api/routers", json=body, headers=headers)
        assert resp.status == 201
        body["name"] = "another-name"
    resp = await box_client.post("/api/routers", json=body, headers=headers)
    assert resp.status == status, await resp.text()
    answer = await resp.json()
    assert words in answer["error"]
    if kind is not None:
        assert answer["kind"] == kind
    else:
        assert set(answer["fields"]) == {"host", "api_port"}


async def test_api_routers_refuse_anonymous_staff_and_other_tenants(
    box_client: Client, box_db: Database, box_tenant: Tenant, box_router: StartRouter
) -> None:
    router = await box_router()
    resp = await box_client.get("/api/routers")
    assert resp.status == 401

    csrf = await _signed_in(box_client, box_db, box_tenant, "admin")
    resp = await box_client.post("/api/routers", json=_body(router))
    assert resp.status == 403  # no CSRF token
    resp = await box_client.post("/api/routers", json=_body(router), headers={"X-CSRF-Token": csrf})
    assert resp.status == 201
    router_id = (await resp.json())["router"]["id"]

    other_id = await make_tenant(box_db, f"other-{box_tenant.slug}")
    await make_admin(box_db, f"staff-{box_tenant.slug}", "staff", box_tenant.id)
    await make_admin(box_db, f"admin-other-{box_tenant.slug}", "admin", other_id)
    # The same browser, signed in as someone else each time (a fresh cookie jar).
    box_client.session.cookie_jar.clear()
    staff_csrf = await login(box_client, f"staff-{box_tenant.slug}")
    resp = await box_client.post(
        "/api/routers", json=_body(router), headers={"X-CSRF-Token": staff_csrf}
    )
    assert resp.status == 403
    resp = await box_client.get("/api/routers")
    assert [r["id"] for r in (await resp.json())["routers"]] == [router_id]

    box_client.session.cookie_jar.clear()
    other_csrf = await login(box_client, f"admin-other-{box_tenant.slug}")
    resp = await box_client.get("/api/routers")
    assert (await resp.json())["routers"] == []
    resp = await box_client.post(
        f"/api/routers/{router_id}/sync", headers={"X-CSRF-Token": other_csrf}
    )
    assert resp.status == 404
    resp = await box_client.get(f"/api/routers/{router_id}")
    assert resp.status == 404


async def test_admin_page_registers_with_the_form(
    box_client: Client, box_db: Database, box_tenant: Tenant, box_router: StartRouter
) -> None:
    router = await box_router(identity="hall")
    await _signed_in(box_client, box_db, box_tenant, "admin")
    resp = await box_client.get("/admin/routers")
    assert resp.status == 200
    page = await resp.text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None and 'id="register-router"' in page
    form = {k: str(v) for k, v in _body(router).items()} | {"csrf_token": match.group(1)}

    resp = await box_client.post("/admin/routers", data=form)
    assert resp.status == 201, await resp.text()
    page = await resp.text()
    assert 'id="registered"' in page and "RouterOS 7.18.2" in page
    assert f"{router.address}:{router.api_port}" in page

    form["password"] = "wrong-one"
    form["name"] = "second"
    resp = await box_client.post("/admin/routers", data=form)
    assert resp.status == 409  # same address: refused before the router is asked
    assert "already registered" in await resp.text()
