"""CSRF, sign-in lockout, session cookie flags and timeouts, no open redirect after sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from portal.app import create_app
from portal.csrf import add_csrf_exempt_prefix, csrf_exempt
from tests.portal.conftest import PASSWORD, anon_csrf, login, make_admin, make_tenant


async def _login_form(client: TestClient[Any, Any], next_path: str) -> Any:
    page = await client.get("/admin/login")
    text = await page.text()
    token = text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "boss", "password": PASSWORD, "next": next_path},
        allow_redirects=False,
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}],
    ids=["missing", "wrong", "empty"],
)
async def test_csrf_missing_or_wrong_is_403_and_changes_nothing(
    client: TestClient[Any, Any], database: Database, headers: dict[str, str]
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    await login(client, "boss")
    resp = await client.post(
        "/api/users", json={"username": "clerk", "password": PASSWORD}, headers=headers
    )
    assert resp.status == 403
    form = await client.post("/admin/users", data={"username": "clerk", "password": PASSWORD})
    assert form.status == 403
    logout = await client.post("/admin/logout", allow_redirects=False)
    assert logout.status == 403
    row = await database.fetchone("SELECT COUNT(*) FROM jobs WHERE kind != 'update_login_stats'")
    assert row is not None and row[0] == 0


async def test_csrf_token_of_another_session_is_refused(
    client: TestClient[Any, Any], aiohttp_client: Any, database: Database
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    await make_admin(database, "eve", "admin", tenant_id)
    await login(client, "boss")
    other = await aiohttp_client(client.server)
    eve_token = await login(other, "eve")
    resp = await client.post(
        "/api/users",
        json={"username": "clerk", "password": PASSWORD},
        headers={"X-CSRF-Token": eve_token},
    )
    assert resp.status == 403


async def test_login_itself_needs_the_csrf_token(
    client: TestClient[Any, Any], database: Database
) -> None:
    await make_admin(database, "root", "system")
    resp = await client.post("/api/login", json={"username": "root", "password": PASSWORD})
    assert resp.status == 403


async def test_csrf_exemptions_by_handler_and_by_prefix(
    settings: Any, database: Database, aiohttp_client: Any
) -> None:
    app = create_app(settings)

    @csrf_exempt
    async def marked(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def callback(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def guarded(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_post("/hooks/marked", marked)
    app.router.add_post("/payments/callback/mpesa", callback)
    app.router.add_post("/hooks/guarded", guarded)
    add_csrf_exempt_prefix(app, "/payments/callback/")
    client = await aiohttp_client(app)
    assert (await client.post("/hooks/marked", json={})).status == 200
    assert (await client.post("/payments/callback/mpesa", json={})).status == 200
    assert (await client.post("/hooks/guarded", json={})).status == 403


async def test_repeated_failures_lock_the_account_at_once(
    client: TestClient[Any, Any], database: Database, settings: Any
) -> None:
    # No worker runs here: the lockout must not wait for the failed-login job.
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    csrf = await anon_csrf(client)
    headers = {"X-CSRF-Token": csrf}
    for _ in range(settings.auth.lockout_threshold):
        resp = await client.post(
            "/api/login", json={"username": "boss", "password": "guess"}, headers=headers
        )
        assert resp.status == 401
    resp = await client.post(
        "/api/login", json={"username": "boss", "password": PASSWORD}, headers=headers
    )
    assert resp.status == 429
    assert 0 < int(resp.headers["Retry-After"]) <= settings.auth.lockout_s
    assert "hotspotd_session" not in resp.cookies


async def test_repeated_failures_lock_the_source_address(
    make_settings: Any, database: Database, aiohttp_client: Any
) -> None:
    settings = make_settings(
        auth={"password_scrypt_n": 1024, "address_lockout_threshold": 3, "lockout_threshold": 10}
    )
    client = await aiohttp_client(create_app(settings))
    await make_admin(database, "boss", "system")
    headers = {"X-CSRF-Token": await anon_csrf(client)}
    for name in ("a1x", "b2x", "c3x"):  # different names, same address
        resp = await client.post(
            "/api/login", json={"username": name, "password": "guess"}, headers=headers
        )
        assert resp.status == 401
    resp = await client.post(
        "/api/login", json={"username": "boss", "password": PASSWORD}, headers=headers
    )
    assert resp.status == 429


async def test_session_cookie_flags(client: TestClient[Any, Any], database: Database) -> None:
    await make_admin(database, "boss", "system")
    resp = await _login_form(client, "/admin/")
    assert resp.status == 303
    cookie = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith("hotspotd_session="))
    flags = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"].split("=")[1].strip() == "Strict"
    assert flags["path"].split("=")[1].strip() == "/"
    assert "secure" not in flags  # served over plain http in the test


async def test_session_cookie_is_secure_under_https(
    make_settings: Any, database: Database, aiohttp_client: Any
) -> None:
    settings = make_settings(
        auth={"password_scrypt_n": 1024}, portal={"public_url": "https://hotspot.example"}
    )
    client = await aiohttp_client(create_app(settings))
    await make_admin(database, "boss", "system")
    page = await client.get("/admin/login")
    anon = next(h for h in page.headers.getall("Set-Cookie") if h.startswith("hotspotd_csrf="))
    assert "secure" in anon.lower()
    # The test client speaks plain http, so it keeps Secure cookies to itself: send it by hand.
    anon_value = anon.split(";", 1)[0].split("=", 1)[1]
    token = (await page.text()).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "boss", "password": PASSWORD, "next": "/admin/"},
        headers={"Cookie": f"hotspotd_csrf={anon_value}"},
        allow_redirects=False,
    )
    assert resp.status == 303
    cookie = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith("hotspotd_session="))
    assert "secure" in cookie.lower()


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/admin/"),
        ("//evil.example/admin", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("/admin\\@evil.example", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
        ("/admin/x?u=https://evil.example", "/admin/"),
        ("", "/admin/"),
    ],
)
async def test_login_next_is_never_an_open_redirect(
    client: TestClient[Any, Any], database: Database, next_path: str, location: str
) -> None:
    await make_admin(database, "boss", "system")
    resp = await _login_form(client, next_path)
    assert resp.status == 303
    assert resp.headers["Location"] == location


async def test_idle_and_absolute_session_timeouts(
    client: TestClient[Any, Any], database: Database, settings: Any
) -> None:
    await make_admin(database, "boss", "system")
    await login(client, "boss")
    assert (await client.get("/api/me")).status == 200
    idle = settings.auth.session_idle_timeout_s
    async with database.transaction() as conn:
        await conn.execute("UPDATE admin_sessions SET last_seen_at = last_seen_at - ?", (idle + 1,))
    assert (await client.get("/api/me")).status == 401
    page = await client.get("/admin/users", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] in (
        "/admin/login?next=%2Fadmin%2Fusers",
        "/admin/login?next=/admin/users",  # yarl's normal form of the same query
    )

    await login(client, "boss")
    absolute = settings.auth.session_absolute_timeout_s
    async with database.transaction() as conn:
        # Active a moment ago, but started too long ago.
        await conn.execute("UPDATE admin_sessions SET created_at = created_at - ?", (absolute + 1,))
    assert (await client.get("/api/me")).status == 401
    row = await database.fetchone("SELECT COUNT(*) FROM admin_sessions")
    assert row is not None and row[0] == 0


async def test_panel_pages_carry_security_headers(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/admin/login")
    assert resp.status == 200
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
