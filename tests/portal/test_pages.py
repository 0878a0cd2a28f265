"""Server-rendered pages: forms with CSRF tokens, 422 with field errors, pending jobs, retry."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from tests.portal.conftest import PASSWORD, make_admin, make_tenant, wait_job


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)


async def _sign_in(client: TestClient[Any, Any], username: str) -> str:
    page = await (await client.get("/admin/login")).text()
    resp = await client.post(
        "/admin/login",
        data={"csrf_token": _token(page), "username": username, "password": PASSWORD},
    )
    assert resp.status == 200 and resp.url.path == "/admin/"
    return _token(await resp.text())


async def test_login_page_shows_a_generic_error(
    client: TestClient[Any, Any], database: Database
) -> None:
    await make_admin(database, "boss", "system")
    page = await (await client.get("/admin/login")).text()
    resp = await client.post(
        "/admin/login", data={"csrf_token": _token(page), "username": "boss", "password": "nope"}
    )
    assert resp.status == 401
    text = await resp.text()
    assert "wrong user name or password" in text and "nope" not in text


async def test_tenants_form_422_keeps_input_but_not_the_password(
    client: TestClient[Any, Any], database: Database
) -> None:
    await make_admin(database, "root", "system")
    csrf = await _sign_in(client, "root")
    resp = await client.post(
        "/admin/tenants",
        data={
            "csrf_token": csrf,
            "slug": "Not A Slug",
            "name": "Kept Name",
            "admin_username": "kept",
            "password": "secret-typed-password",
        },
    )
    assert resp.status == 422
    text = await resp.text()
    assert 'data-field-error="slug"' in text
    assert 'value="Kept Name"' in text
    assert "secret-typed-password" not in text


async def test_users_form_shows_pending_job_then_the_user(
    client: TestClient[Any, Any], database: Database, worker: Any
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await _sign_in(client, "boss")
    page = await (await client.get("/admin/users")).text()
    request_id = re.search(r'name="request_id" value="([^"]+)"', page)
    assert request_id
    form = {
        "csrf_token": csrf,
        "request_id": request_id.group(1),
        "username": "clerk",
        "password": PASSWORD,
        "role": "staff",
    }
    resp = await client.post("/admin/users", data=form, allow_redirects=False)
    assert resp.status == 303
    job_id = resp.headers["Location"].split("job=")[1]
    # The same form sent twice (a double click) is the same job.
    again = await client.post("/admin/users", data=form, allow_redirects=False)
    assert again.headers["Location"] == resp.headers["Location"]
    assert (await wait_job(database, job_id)).state == "done"
    text = await (await client.get("/admin/users")).text()
    assert 'data-username="clerk"' in text


async def test_jobs_page_lists_failures_with_retry(
    client: TestClient[Any, Any], database: Database
) -> None:
    from hotspotd.store import jobs

    tenant_id = await make_tenant(database, "acme")
    boss = await make_admin(database, "boss", "admin", tenant_id)
    await jobs.insert_job(
        database,
        "job-x",
        "delete_admin_user",
        {"actor_id": boss.id, "admin_id": 999},
        tenant_id=tenant_id,
        actor_id=boss.id,
        subject="user ghost",
    )
    async with database.transaction() as conn:
        await jobs.fail_job(conn, "job-x", "the user no longer exists")
    csrf = await _sign_in(client, "boss")
    text = await (await client.get("/admin/jobs")).text()
    assert "failed: the user no longer exists" in text
    assert 'action="/admin/jobs/job-x/retry"' in text
    resp = await client.post(
        "/admin/jobs/job-x/retry", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert resp.status == 303
    assert (await jobs.get_job(database, "job-x")).state == "queued"


async def test_registration_page_flow(
    client: TestClient[Any, Any], database: Database, worker: Any
) -> None:
    page = await (await client.get("/register")).text()
    resp = await client.post(
        "/register",
        data={
            "csrf_token": _token(page),
            "name": "Corner Cafe",
            "slug": "corner-cafe",
            "admin_username": "cafe",
            "password": PASSWORD,
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    status_path = resp.headers["Location"]
    job_id = status_path.rsplit("/", 1)[1]
    assert (await wait_job(database, job_id)).state == "done"
    text = await (await client.get(status_path)).text()
    assert "Your account is ready" in text
