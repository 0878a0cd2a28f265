"""Tenant isolation: A's admin and staff cannot read or change B's data; staff cannot manage;
anonymous requests are refused. Every endpoint of the admin API and panel is in a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.store import jobs
from tests.portal.conftest import PASSWORD, anon_csrf, login, make_admin, make_tenant


@dataclass
class World:
    a: int
    b: int
    a_admin: int
    a_staff: int
    b_target: int
    a_job: str
    b_job: str


async def _failed_job(db: Database, job_id: str, tenant_id: int, actor_id: int) -> str:
    await jobs.insert_job(
        db,
        job_id,
        "delete_admin_user",
        {"actor_id": actor_id, "admin_id": 0},
        tenant_id=tenant_id,
        actor_id=actor_id,
        subject=f"secret-subject-{job_id}",
    )
    async with db.transaction() as conn:
        await jobs.fail_job(conn, job_id, "boom")
    return job_id


@pytest.fixture
async def world(database: Database) -> World:
    a = await make_tenant(database, "tenant-a")
    b = await make_tenant(database, "tenant-b")
    await make_admin(database, "root", "system")
    a_admin = await make_admin(database, "a-admin", "admin", a)
    a_staff = await make_admin(database, "a-staff", "staff", a)
    b_admin = await make_admin(database, "b-admin", "admin", b)
    await make_admin(database, "b-staff", "staff", b)
    b_target = await make_admin(database, "b-target", "staff", b)
    a_job = await _failed_job(database, "job-a", a, a_admin.id)
    b_job = await _failed_job(database, "job-b", b, b_admin.id)
    return World(a, b, a_admin.id, a_staff.id, b_target.id, a_job, b_job)


def _cross_tenant(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every endpoint that names one of tenant B's things (or all tenants)."""
    new_user = {"username": "intruder", "password": PASSWORD, "role": "staff", "tenant_id": w.b}
    tenant = {"slug": "evil", "name": "Evil", "admin_username": "evil", "password": PASSWORD}
    return [
        ("GET", f"/api/users/{w.b_target}", None),
        ("PATCH", f"/api/users/{w.b_target}", {"status": "disabled"}),
        ("DELETE", f"/api/users/{w.b_target}", None),
        ("POST", "/api/users", new_user),
        ("GET", f"/api/jobs/{w.b_job}", None),
        ("POST", f"/api/jobs/{w.b_job}/retry", None),
        ("GET", "/api/tenants", None),
        ("POST", "/api/tenants", tenant),
        ("GET", "/admin/tenants", None),
        ("POST", "/admin/tenants", tenant),
        ("POST", "/admin/users", new_user),
        ("POST", f"/admin/users/{w.b_target}/update", {"status": "disabled"}),
        ("POST", f"/admin/users/{w.b_target}/delete", {}),
        ("POST", f"/admin/jobs/{w.b_job}/retry", {}),
    ]


def _own_tenant_management(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    """What a tenant admin may do in its own tenant and staff may not."""
    return [
        ("POST", "/api/users", {"username": "newbie", "password": PASSWORD, "role": "staff"}),
        ("PATCH", f"/api/users/{w.a_admin}", {"role": "staff"}),
        ("DELETE", f"/api/users/{w.a_admin}", None),
        ("POST", f"/api/jobs/{w.a_job}/retry", None),
        ("POST", "/admin/users", {"username": "newbie", "password": PASSWORD, "role": "staff"}),
        ("POST", f"/admin/users/{w.a_admin}/update", {"status": "disabled"}),
        ("POST", f"/admin/users/{w.a_admin}/delete", {}),
        ("POST", f"/admin/jobs/{w.a_job}/retry", {}),
    ]


async def _call(
    client: TestClient[Any, Any], csrf: str, method: str, path: str, body: dict[str, Any] | None
) -> int:
    headers = {"X-CSRF-Token": csrf}
    if path.startswith("/admin/"):
        data = {**(body or {}), "csrf_token": csrf} if method == "POST" else None
        resp = await client.request(method, path, data=data, allow_redirects=False)
    else:
        resp = await client.request(method, path, json=body, headers=headers, allow_redirects=False)
    return resp.status


async def _snapshot(db: Database) -> list[Any]:
    admins = await db.fetchall("SELECT id, role, status FROM admins ORDER BY id")
    job_rows = await db.fetchall(
        "SELECT id, state FROM jobs WHERE kind != 'update_login_stats' ORDER BY id"
    )
    tenants = await db.fetchall("SELECT id FROM tenants ORDER BY id")
    return [tuple(r) for r in admins + job_rows + tenants]


@pytest.mark.parametrize("who", ["a-admin", "a-staff"])
async def test_tenant_a_cannot_reach_tenant_b(
    client: TestClient[Any, Any], database: Database, world: World, who: str
) -> None:
    csrf = await login(client, who)
    before = await _snapshot(database)
    for method, path, body in _cross_tenant(world):
        status = await _call(client, csrf, method, path, body)
        assert status in (403, 404), f"{who} {method} {path} -> {status}"
    assert await _snapshot(database) == before


@pytest.mark.parametrize("who", ["a-admin", "a-staff"])
async def test_tenant_a_listings_show_nothing_of_tenant_b(
    client: TestClient[Any, Any], database: Database, world: World, who: str
) -> None:
    await login(client, who)
    for path in ("/api/users", "/api/jobs", "/admin/users", "/admin/jobs", "/admin/"):
        resp = await client.get(path)
        assert resp.status == 200, path
        text = await resp.text()
        for secret in ("b-admin", "b-staff", "b-target", "job-b", "secret-subject-job-b"):
            assert secret not in text, f"{who} sees {secret} on {path}"
    users = (await (await client.get("/api/users")).json())["users"]
    assert {u["tenant_id"] for u in users} == {world.a}
    counters = (await (await client.get("/api/dashboard")).json())["counters"]
    assert counters["admins"] == 2 and counters["tenants"] == 1


async def test_staff_cannot_manage_even_their_own_tenant(
    client: TestClient[Any, Any], database: Database, world: World
) -> None:
    csrf = await login(client, "a-staff")
    before = await _snapshot(database)
    for method, path, body in _own_tenant_management(world):
        status = await _call(client, csrf, method, path, body)
        assert status == 403, f"staff {method} {path} -> {status}"
    assert await _snapshot(database) == before


async def test_tenant_admin_can_manage_its_own_tenant(
    client: TestClient[Any, Any], database: Database, world: World
) -> None:
    # The matrix above is only meaningful if the same calls work where they are allowed.
    csrf = await login(client, "a-admin")
    status = await _call(client, csrf, "PATCH", f"/api/users/{world.a_staff}", {"role": "admin"})
    assert status == 202
    assert await _call(client, csrf, "POST", f"/api/jobs/{world.a_job}/retry", None) == 202


async def test_system_admin_sees_every_tenant(
    client: TestClient[Any, Any], database: Database, world: World
) -> None:
    await login(client, "root")
    users = (await (await client.get("/api/users")).json())["users"]
    assert {u["tenant_id"] for u in users} == {None, world.a, world.b}
    assert (await client.get(f"/api/jobs/{world.b_job}")).status == 200
    assert (await client.get("/admin/tenants")).status == 200


async def test_anonymous_requests_are_refused(
    client: TestClient[Any, Any], database: Database, world: World
) -> None:
    csrf = await anon_csrf(client)  # a valid token, so it is the missing sign-in that refuses
    endpoints = [
        *_cross_tenant(world),
        *_own_tenant_management(world),
        ("GET", "/api/users", None),
        ("GET", "/api/jobs", None),
        ("GET", "/api/me", None),
        ("GET", "/api/dashboard", None),
        ("POST", "/api/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("GET", "/api/ws", None),
        ("GET", "/admin/", None),
        ("GET", "/admin/users", None),
        ("GET", "/admin/jobs", None),
        ("GET", "/admin/password", None),
        ("POST", "/admin/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
    ]
    before = await _snapshot(database)
    for method, path, body in endpoints:
        status = await _call(client, csrf, method, path, body)
        expected = 401 if path.startswith("/api/") else 303
        assert status == expected, f"anonymous {method} {path} -> {status}"
    assert await _snapshot(database) == before
