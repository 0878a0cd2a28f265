"""Each management operation: 202 with a job id at once, the job runs, its event is published."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.store import admins, jobs
from tests.portal.conftest import (
    PASSWORD,
    EventListener,
    anon_csrf,
    login,
    make_admin,
    make_tenant,
    wait_job,
)


async def _accepted(resp: Any) -> str:
    assert resp.status == 202, await resp.text()
    body = await resp.json()
    assert resp.headers["Location"] == body["status_url"]
    assert body["state"] == "queued"
    job_id: str = body["job_id"]
    return job_id


async def _status(client: TestClient[Any, Any], job_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/jobs/{job_id}")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def _stored_event(db: Database, type_: str, job_id: str) -> dict[str, Any]:
    row = await db.fetchone(
        "SELECT * FROM events WHERE type = ? AND json_extract(payload, '$.job_id') = ?",
        (type_, job_id),
    )
    assert row is not None, f"no stored {type_} event for job {job_id}"
    return dict(row)


async def test_register_creates_tenant_and_first_admin(
    client: TestClient[Any, Any], database: Database, worker: Any, events: EventListener
) -> None:
    csrf = await anon_csrf(client)
    resp = await client.post(
        "/api/register",
        json={"slug": "acme", "name": "Acme Wi-Fi", "admin_username": "acme", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    job_id = await _accepted(resp)
    assert resp.headers["Location"] == f"/api/register/{job_id}"
    assert (await wait_job(database, job_id)).state == "done"
    status = await (await client.get(f"/api/register/{job_id}")).json()
    assert status == {"id": job_id, "state": "done", "error": None}
    event = await events.next("TenantCreated", job_id=job_id)
    assert event["payload"]["slug"] == "acme"
    await _stored_event(database, "TenantCreated", job_id)
    await login(client, "acme")
    me = await (await client.get("/api/me")).json()
    assert me["actor"]["role"] == "admin"
    assert me["actor"]["tenant_id"] == event["tenant_id"]


async def test_register_is_refused_when_closed(
    make_settings: Any, aiohttp_client: Any, database: Database
) -> None:
    from portal.app import create_app

    settings = make_settings(portal={"registration_open": False})
    client = await aiohttp_client(create_app(settings))
    csrf = await anon_csrf(client)
    resp = await client.post(
        "/api/register",
        json={"slug": "acme", "name": "Acme", "admin_username": "acme", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 404
    assert (await client.get("/register")).status == 404


async def test_user_lifecycle_create_update_delete(
    client: TestClient[Any, Any], database: Database, worker: Any, events: EventListener
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    headers = {"X-CSRF-Token": csrf}

    job_id = await _accepted(
        await client.post(
            "/api/users",
            json={"username": "clerk", "password": PASSWORD, "role": "staff"},
            headers=headers,
        )
    )
    assert (await _status(client, job_id))["state"] in ("queued", "running", "done")
    created = await events.next("UserCreated", job_id=job_id)
    assert created["tenant_id"] == tenant_id
    admin_id = created["payload"]["admin_id"]
    assert (await _status(client, job_id))["state"] == "done"
    await _stored_event(database, "UserCreated", job_id)

    job_id = await _accepted(
        await client.patch(f"/api/users/{admin_id}", json={"role": "admin"}, headers=headers)
    )
    updated = await events.next("UserUpdated", job_id=job_id)
    assert updated["payload"]["role"] == "admin"
    await _stored_event(database, "UserUpdated", job_id)

    job_id = await _accepted(await client.delete(f"/api/users/{admin_id}", headers=headers))
    await events.next("UserDeleted", job_id=job_id)
    await _stored_event(database, "UserDeleted", job_id)
    assert (await _status(client, job_id))["state"] == "done"
    assert not await admins.username_taken(database, "clerk")


async def test_system_admin_creates_tenant_and_users_anywhere(
    client: TestClient[Any, Any], database: Database, worker: Any, events: EventListener
) -> None:
    await make_admin(database, "root", "system")
    headers = {"X-CSRF-Token": await login(client, "root")}
    job_id = await _accepted(
        await client.post(
            "/api/tenants",
            json={"slug": "beta", "name": "Beta", "admin_username": "beta", "password": PASSWORD},
            headers=headers,
        )
    )
    tenant_id = (await events.next("TenantCreated", job_id=job_id))["tenant_id"]
    job_id = await _accepted(
        await client.post(
            "/api/users",
            json={
                "username": "helper",
                "password": PASSWORD,
                "role": "staff",
                "tenant_id": tenant_id,
            },
            headers=headers,
        )
    )
    assert (await events.next("UserCreated", job_id=job_id))["tenant_id"] == tenant_id
    job_id = await _accepted(
        await client.post(
            "/api/users",
            json={"username": "root2", "password": PASSWORD, "role": "system"},
            headers=headers,
        )
    )
    assert (await events.next("UserCreated", job_id=job_id))["tenant_id"] is None


async def test_password_change_ends_other_sessions(
    client: TestClient[Any, Any],
    aiohttp_client: Any,
    app: Any,
    database: Database,
    worker: Any,
    events: EventListener,
) -> None:
    tenant_id = await make_tenant(database, "acme")
    admin = await make_admin(database, "boss", "admin", tenant_id)
    other = await aiohttp_client(client.server)  # a second browser, same server
    await login(other, "boss")
    headers = {"X-CSRF-Token": await login(client, "boss")}
    assert await admins.count_sessions(database, admin.id) == 2
    job_id = await _accepted(
        await client.post(
            "/api/password",
            json={"current_password": PASSWORD, "new_password": "a brand new secret"},
            headers=headers,
        )
    )
    event = await events.next("PasswordChanged", job_id=job_id)
    assert event["payload"]["sessions_ended"] == 1
    assert (await other.get("/api/me")).status == 401
    assert (await client.get("/api/me")).status == 200
    await login(other, "boss", "a brand new secret")


async def test_login_records_stats_and_failures_through_jobs(
    client: TestClient[Any, Any], database: Database, worker: Any, events: EventListener
) -> None:
    tenant_id = await make_tenant(database, "acme")
    admin = await make_admin(database, "boss", "admin", tenant_id)
    csrf = await anon_csrf(client)
    resp = await client.post(
        "/api/login",
        json={"username": "boss", "password": "wrong password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 401
    failed = await events.next("LoginFailed")
    assert failed["tenant_id"] == tenant_id
    assert "wrong password" not in str(failed["payload"].get("address"))
    await login(client, "boss")
    job_list = await jobs.list_jobs(database, admin.actor())
    stats_job = next(j for j in job_list if j.kind == "update_login_stats")
    assert (await wait_job(database, stats_job.id)).state == "done"
    row = await database.fetchone(
        "SELECT login_count, last_login_at, failed_logins FROM admins WHERE id = ?", (admin.id,)
    )
    assert row is not None
    assert row["login_count"] == 1 and row["last_login_at"] is not None
    failures = await database.fetchall("SELECT * FROM login_failures")
    assert [f["reason"] for f in failures] == ["wrong password"]
