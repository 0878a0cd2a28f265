"""Validation (422, nothing changes), job failures with reasons, duplicates, retry, reconciler."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from hotspotd.db import Database
from hotspotd.passwords import hash_password
from hotspotd.settings import Settings
from hotspotd.store import admins
from tasks import management
from tasks.context import DB, SETTINGS
from tests.portal.conftest import (
    PASSWORD,
    TEST_SCRYPT_N,
    EventListener,
    login,
    make_admin,
    make_tenant,
    management_worker,
    wait_job,
)


async def _counts(db: Database) -> tuple[int, int, int]:
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM admins), (SELECT COUNT(*) FROM jobs),"
        " (SELECT COUNT(*) FROM events)"
    )
    assert row is not None
    return (row[0], row[1], row[2])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": PASSWORD}, "username"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": "clerk", "password": "short"}, "password"),
        ({"username": "clerk", "password": "x" * 200}, "password"),
        ({"username": "clerkclerk", "password": "ClerkClerk"}, "password"),
        ({"username": "clerk", "password": PASSWORD, "role": "system"}, "role"),
        ({"username": "clerk", "password": PASSWORD, "role": "owner"}, "role"),
        ({"username": "boss", "password": PASSWORD}, "username"),  # taken
        ({"username": "BOSS", "password": PASSWORD}, "username"),  # taken, any case
    ],
)
async def test_create_user_validation_is_422_and_changes_nothing(
    client: TestClient[Any, Any], database: Database, body: dict[str, Any], field: str
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    before = await _counts(database)
    resp = await client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status == 422
    answer = await resp.json()
    assert field in answer["fields"]
    assert PASSWORD not in await resp.text()
    assert await _counts(database) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug", "name": "X", "admin_username": "xadmin"}, "slug"),
        ({"slug": "acme", "name": "X", "admin_username": "xadmin"}, "slug"),  # taken
        ({"slug": "newco", "name": "", "admin_username": "xadmin"}, "name"),
        ({"slug": "newco", "name": "X", "admin_username": "boss"}, "admin_username"),
    ],
)
async def test_register_validation_is_422_and_changes_nothing(
    client: TestClient[Any, Any], database: Database, body: dict[str, Any], field: str
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    from tests.portal.conftest import anon_csrf

    csrf = await anon_csrf(client)
    before = await _counts(database)
    resp = await client.post(
        "/api/register", json={**body, "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 422
    assert field in (await resp.json())["fields"]
    assert await _counts(database) == before


async def test_job_failure_username_taken_after_validation_is_reported(
    client: TestClient[Any, Any], settings: Settings, database: Database, events: EventListener
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    resp = await client.post(
        "/api/users",
        json={"username": "clerk", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 202
    job_id = (await resp.json())["job_id"]
    # Someone takes the name between validation and the job (no worker ran yet).
    await make_admin(database, "clerk", "staff", tenant_id)
    async with management_worker(settings):
        job = await wait_job(database, job_id)
        failed = await events.next("JobFailed", job_id=job_id)
    assert job.state == "failed"
    assert "taken" in (job.error or "")
    status = await (await client.get(f"/api/jobs/{job_id}")).json()
    assert status["state"] == "failed" and "taken" in status["error"]
    assert failed["tenant_id"] == tenant_id and "taken" in failed["payload"]["error"]
    stored = await database.fetchone("SELECT * FROM events WHERE type = 'JobFailed'")
    assert stored is not None


async def test_job_failure_tenant_deleted_meanwhile_is_reported(
    client: TestClient[Any, Any], settings: Settings, database: Database, events: EventListener
) -> None:
    await make_admin(database, "root", "system")
    tenant_id = await make_tenant(database, "acme")
    csrf = await login(client, "root")
    resp = await client.post(
        "/api/users",
        json={"username": "clerk", "password": PASSWORD, "role": "staff", "tenant_id": tenant_id},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 202
    job_id = (await resp.json())["job_id"]
    async with database.transaction() as conn:
        await conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
    async with management_worker(settings):
        job = await wait_job(database, job_id)
        await events.next("JobFailed", job_id=job_id)
    assert job.state == "failed"
    assert job.error == "the tenant no longer exists"
    assert not await admins.username_taken(database, "clerk")


async def test_duplicate_submissions_make_one_job_and_one_user(
    client: TestClient[Any, Any], settings: Settings, database: Database
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    body = {"username": "clerk", "password": PASSWORD}
    keyed = {"X-CSRF-Token": csrf, "Idempotency-Key": "form-1"}
    first = await (await client.post("/api/users", json=body, headers=keyed)).json()
    again = await (await client.post("/api/users", json=body, headers=keyed)).json()
    # Without a key, the same work still queued is the same job too.
    plain = await (
        await client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf})
    ).json()
    assert first["job_id"] == again["job_id"] == plain["job_id"]
    async with management_worker(settings):
        assert (await wait_job(database, first["job_id"])).state == "done"
        # The same form submitted after the job finished is still that one job.
        late = await (await client.post("/api/users", json=body, headers=keyed)).json()
    assert late["job_id"] == first["job_id"]
    row = await database.fetchone("SELECT COUNT(*) FROM admins WHERE username = 'clerk'")
    assert row is not None and row[0] == 1
    row = await database.fetchone("SELECT COUNT(*) FROM jobs WHERE kind = 'create_admin_user'")
    assert row is not None and row[0] == 1


async def test_failed_job_can_be_retried_from_the_jobs_api(
    client: TestClient[Any, Any], settings: Settings, database: Database, events: EventListener
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    resp = await client.post(
        "/api/users",
        json={"username": "clerk", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    job_id = (await resp.json())["job_id"]
    squatter = await make_admin(database, "clerk", "staff", tenant_id)
    async with management_worker(settings):
        assert (await wait_job(database, job_id)).state == "failed"
        async with database.transaction() as conn:
            await admins.delete_admin(conn, squatter.actor(), squatter.id)
        retry = await client.post(f"/api/jobs/{job_id}/retry", headers={"X-CSRF-Token": csrf})
        assert retry.status == 202
        assert (await retry.json())["job_id"] == job_id
        job = await wait_job(database, job_id)
        await events.next("UserCreated", job_id=job_id)
    assert job.state == "done" and job.error is None
    again = await client.post(f"/api/jobs/{job_id}/retry", headers={"X-CSRF-Token": csrf})
    assert again.status == 409


async def test_reconciler_requeues_jobs_redis_lost(
    client: TestClient[Any, Any],
    settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await login(client, "boss")
    resp = await client.post(
        "/api/users",
        json={"username": "clerk", "password": PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    job_id = (await resp.json())["job_id"]
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value())
    await redis.flushall()  # Redis restarted without persistence
    await redis.aclose()
    monkeypatch.setattr(management, "QUEUED_GRACE_S", 0)
    async with management_worker(settings):  # runs the reconciler at start-up
        job = await wait_job(database, job_id)
    assert job.state == "done"
    assert await admins.username_taken(database, "clerk")


async def test_job_rerun_after_done_changes_nothing(settings: Settings, database: Database) -> None:
    # arq delivers at least once: a second run of a finished job must be a no-op.
    tenant_id = await make_tenant(database, "acme")
    boss = await make_admin(database, "boss", "admin", tenant_id)
    from hotspotd.store import jobs

    await jobs.insert_job(
        database,
        "job-1",
        "delete_admin_user",
        {},
        tenant_id=tenant_id,
        actor_id=boss.id,
    )
    target = await make_admin(database, "clerk", "staff", tenant_id)
    ctx: dict[str, Any] = {"job_id": "job-1", "job_try": 1, SETTINGS: settings, DB: database}

    class NoRedis:
        async def publish(self, channel: str, message: str) -> int:
            return 0

    ctx["redis"] = NoRedis()
    first = await management.delete_admin_user(ctx, actor_id=boss.id, admin_id=target.id)
    assert first == {"admin_id": target.id}
    # Recreate a user with the same id? No: check the second run does not touch anything.
    second = await management.delete_admin_user(ctx, actor_id=boss.id, admin_id=target.id)
    assert second == {"state": "skipped"}
    row = await database.fetchone("SELECT COUNT(*) FROM events WHERE type = 'UserDeleted'")
    assert row is not None and row[0] == 1
    assert hash_password("x", n=TEST_SCRYPT_N).startswith("scrypt$1024$")
