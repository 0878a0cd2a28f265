"""Hotspot login servlet: portal redirect, CHAP/PAP login via RADIUS, status, logout, API login."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
import routeros_api
from routeros_api.exceptions import RouterOsApiCommunicationError

from routers.simulator.clients import chap_password_hex, decode_octal_escapes
from routers.simulator.hotspot import CLIENT_HEADER
from routers.simulator.run import RunningRouter, SimulatorConfig, start_simulator
from tests.support.fake_radius import FakeRadiusServer, hotspot_router_config, wait_until

PORTAL = "http://portal.test/hotspot/login"


@pytest.fixture
async def radius() -> AsyncIterator[FakeRadiusServer]:
    async with FakeRadiusServer() as server:
        server.add_user("alice", "s3cret", Session_Timeout=3600, Mikrotik_Rate_Limit="2M/5M")
        yield server


@pytest.fixture
async def hotspot(radius: FakeRadiusServer) -> AsyncIterator[RunningRouter]:
    simulator = await start_simulator(SimulatorConfig((hotspot_router_config(radius),)))
    try:
        yield simulator[0]
    finally:
        await simulator.close()


async def test_hotspot_login_page_redirects_to_portal_with_chap_challenge(
    hotspot: RunningRouter,
) -> None:
    client = hotspot.arrive(mac="aa:bb:cc:00:00:01", ip="10.5.50.77")
    page = await client.open_login_page(dst="http://neverssl.com/")
    assert page.location is not None and page.location.startswith(PORTAL + "?")
    params = page.params
    assert params["mac"] == "AA:BB:CC:00:00:01"
    assert params["ip"] == "10.5.50.77"
    assert params["link-login-only"] == f"{hotspot.hotspot_url}/login"
    assert params["dst"] == "http://neverssl.com/"
    assert params["link-orig"] == "http://neverssl.com/"
    assert params["server-name"] == "hotspot1"
    assert params["identity"] == "hs-test"
    assert params["error"] == ""
    assert len(decode_octal_escapes(params["chap-id"])) == 1
    assert params["chap-challenge"].count("\\") == 16
    assert len(decode_octal_escapes(params["chap-challenge"])) == 16


async def test_hotspot_login_chap_sends_access_request_like_mikrotik(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = hotspot.arrive(mac="aa:bb:cc:00:00:02", ip="10.5.50.78")
    page = await client.open_login_page(dst="http://neverssl.com/")
    attempt = await client.submit(page, "alice", "s3cret")

    assert attempt.ok, attempt
    assert attempt.status == 302 and attempt.location == "http://neverssl.com/"
    assert radius.auth_results == ["accept"]
    request = radius.auth_requests[0]
    assert request.source[0] == "127.0.0.1"
    assert request.get("User-Name") == "alice"
    chap_password = request.get("CHAP-Password")
    challenge = decode_octal_escapes(page.chap_challenge)
    chap_id = decode_octal_escapes(page.chap_id)
    assert chap_password == chap_id + hashlib.md5(chap_id + b"s3cret" + challenge).digest()
    assert request.get("CHAP-Challenge") == challenge
    assert "User-Password" not in request.request
    assert request.request.message_authenticator
    assert request.get("NAS-Identifier") == "hs-test"
    assert request.get("NAS-IP-Address") == "127.0.0.1"
    assert request.get("NAS-Port-Type") == "Wireless-802.11"
    assert request.get("Service-Type") == "Login-User"
    assert request.get("Calling-Station-Id") == "AA:BB:CC:00:00:02"
    assert request.get("Called-Station-Id") == "hotspot1"
    assert request.get("NAS-Port-Id") == "bridge"
    assert request.get("Framed-IP-Address") == "10.5.50.78"
    assert request.get("Mikrotik-Host-IP") == "10.5.50.78"
    assert isinstance(request.get("NAS-Port"), int)
    session = client.session
    assert session is not None
    assert request.get("Acct-Session-Id") == session.acct_session_id
    assert session.rate_limit == "2M/5M"

    rows = hotspot.router.menu("/ip/hotspot/active").items()
    assert len(rows) == 1
    row = rows[0]
    assert row["user"] == "alice"
    assert row["address"] == "10.5.50.78"
    assert row["mac-address"] == "AA:BB:CC:00:00:02"
    assert row["server"] == "hotspot1"
    assert row["login-by"] == "http-chap"
    assert row["radius"] == "true"
    assert row["session-time-left"] in {"1h", "59m59s"}
    host = hotspot.router.menu("/ip/hotspot/host").find(mac_address="AA:BB:CC:00:00:02")
    assert host[0]["authorized"] == "true"


async def test_hotspot_login_wrong_password_goes_back_to_portal_with_error(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = hotspot.arrive()
    attempt = await client.login("alice", "wrong")
    assert not attempt.ok
    assert attempt.location is not None and attempt.location.startswith(PORTAL)
    assert attempt.error == "invalid username or password"
    assert attempt.error_orig == "invalid-username"
    assert attempt.page is not None and len(attempt.page.chap_challenge) == 64
    assert radius.auth_results == ["reject"]
    assert hotspot.router.menu("/ip/hotspot/active").items() == []

    # The fresh challenge on the error page works.
    retry = await client.submit(attempt.page, "alice", "s3cret")
    assert retry.ok


async def test_hotspot_login_reject_reply_message_becomes_the_error(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("bob", "pw")
    radius.users["bob"].reject_message = "Your plan has expired"
    client = hotspot.arrive()
    attempt = await client.login("bob", "not-pw")
    assert attempt.error == "Your plan has expired"


async def test_hotspot_login_without_challenge_is_chap_missing(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = hotspot.arrive()
    page = await client.open_login_page()
    first = await client.submit(page, "alice", "s3cret")
    assert first.ok
    await client.logout()
    # The challenge was used up by the first login: posting the old page again is refused
    # before RADIUS is asked.
    again = await client.submit(page, "alice", "s3cret")
    assert not again.ok
    assert again.error_orig == "chap-missing"
    assert len(radius.auth_requests) == 1


async def test_hotspot_login_only_latest_challenge_is_valid(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = hotspot.arrive()
    stale = await client.open_login_page()
    await client.open_login_page()
    attempt = await client.submit(stale, "alice", "s3cret")
    assert not attempt.ok
    assert attempt.error_orig == "invalid-username"


async def test_hotspot_login_pap_when_profile_allows_http_pap(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    profiles = hotspot.router.menu("/ip/hotspot/profile")
    profiles.set("hsprof1", {"login-by": "http-pap"})
    client = hotspot.arrive()
    page = await client.open_login_page()
    attempt = await client.submit(page, "alice", "s3cret", chap=False)
    assert attempt.ok
    request = radius.auth_requests[0].request
    assert "CHAP-Password" not in request
    assert request.PwDecrypt(request["User-Password"][0]) == "s3cret"
    assert hotspot.router.menu("/ip/hotspot/active").items()[0]["login-by"] == "http-pap"


async def test_hotspot_login_radius_timeout_error(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.answer_auth = False
    client = hotspot.arrive()
    attempt = await client.login("alice", "s3cret")
    assert not attempt.ok
    assert attempt.error == "RADIUS server is not responding"
    # 300 ms timeout and two retries, as /radius timeout says.
    assert len(radius.auth_requests) == 3


async def test_hotspot_login_local_users_without_radius(hotspot: RunningRouter) -> None:
    hotspot.router.menu("/ip/hotspot/profile").set("hsprof1", {"use-radius": "no"})
    hotspot.router.menu("/ip/hotspot/user").add(
        {"name": "local", "password": "pw", "limit-uptime": "1h"}
    )
    client = hotspot.arrive()
    assert (await client.login("local", "bad")).error_orig == "invalid-username"
    assert (await client.login("local", "pw")).ok
    row = hotspot.router.menu("/ip/hotspot/active").items()[0]
    assert row["radius"] == "false"
    assert row["session-time-left"] in {"1h", "59m59s"}


async def test_hotspot_status_and_logout(hotspot: RunningRouter, radius: FakeRadiusServer) -> None:
    client = hotspot.arrive(mac="aa:bb:cc:00:00:09", ip="10.5.50.9")
    assert (await client.status())["logged-in"] == "no"
    assert (await client.login("alice", "s3cret")).ok
    status = await client.status()
    assert status["logged-in"] == "yes"
    assert status["username"] == "alice"
    assert status["ip"] == "10.5.50.9"
    await client.logout()
    assert not client.logged_in
    stop = (await radius.wait_accounting("Stop"))[0]
    assert stop.get("Acct-Terminate-Cause") == "User-Request"
    assert hotspot.router.menu("/ip/hotspot/active").items() == []
    host = hotspot.router.menu("/ip/hotspot/host").find(mac_address="AA:BB:CC:00:00:09")
    assert host[0]["authorized"] == "false"


async def test_hotspot_unknown_client_is_refused(hotspot: RunningRouter) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{hotspot.hotspot_url}/login", headers={CLIENT_HEADER: "02:99:99:99:99:99"}
        ) as response:
            assert response.status == 403
        async with http.get(f"{hotspot.hotspot_url}/login") as response:
            assert response.status == 403


async def test_hotspot_browser_flow_with_query_parameter_and_cookie(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    """A browser names its client once (sim-mac query); the cookie carries it to the login POST."""
    client = hotspot.arrive(mac="aa:bb:cc:00:00:10", ip="10.5.50.10")
    # Browsers keep cookies for IP hosts; aiohttp only with unsafe=True.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(
            f"{hotspot.hotspot_url}/login",
            params={"sim-mac": client.mac, "dst": "http://example.org/"},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
            location = urlsplit(response.headers["Location"])
            params = dict(parse_qsl(location.query, keep_blank_values=True))
        password = chap_password_hex(params["chap-id"], "s3cret", params["chap-challenge"])
        async with http.post(
            params["link-login-only"],
            data={"username": "alice", "password": password, "dst": params["dst"]},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
            assert response.headers["Location"] == "http://example.org/"
    assert client.logged_in


async def test_hotspot_built_in_login_page_without_portal(radius: FakeRadiusServer) -> None:
    config = hotspot_router_config(radius, portal_url=None)
    async with await start_simulator(SimulatorConfig((config,))) as simulator:
        client = simulator[0].arrive()
        page = await client.open_login_page()
        assert page.location is None
        assert page.link_login_only.endswith("/login")
        assert (await client.submit(page, "alice", "s3cret")).ok
        async with aiohttp.ClientSession() as http:
            other = simulator[0].arrive()
            async with http.get(
                f"{simulator[0].hotspot_url}/login", headers={CLIENT_HEADER: other.mac}
            ) as response:
                assert response.status == 200
                assert "<form" in await response.text()


async def test_hotspot_api_login_command_logs_host_in(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = hotspot.arrive(mac="aa:bb:cc:00:00:20", ip="10.5.50.20")

    def api_calls() -> tuple[list[dict[str, str]], str]:
        pool = routeros_api.RouterOsApiPool(
            hotspot.address,
            username="admin",
            password="",
            port=hotspot.api_port,
            plaintext_login=True,
        )
        try:
            api = pool.get_api()
            active = api.get_resource("/ip/hotspot/active")
            active.call(
                "login",
                {"user": "alice", "password": "s3cret", "mac-address": client.mac, "ip": client.ip},
            )
            rows = active.get()
            try:
                active.call("login", {"user": "alice", "password": "x", "ip": "10.5.50.254"})
            except RouterOsApiCommunicationError as exc:
                error = str(exc)
            else:
                error = ""
            active.remove(id=rows[0]["id"])
            return rows, error
        finally:
            pool.disconnect()

    rows, error = await asyncio.to_thread(api_calls)
    assert rows[0]["user"] == "alice"
    assert rows[0]["address"] == "10.5.50.20"
    assert rows[0]["login-by"] == "api"
    assert "no such host" in error
    request = radius.auth_requests[0].request
    assert request.PwDecrypt(request["User-Password"][0]) == "s3cret"
    # Removing the active entry over the API logs the user out with admin-reset.
    stop = (await radius.wait_accounting("Stop"))[0]
    assert stop.get("Acct-Terminate-Cause") == "Admin-Reset"
    await wait_until(lambda: not client.logged_in)


async def test_hotspot_assume_last_client_for_cross_site_form_posts(
    radius: FakeRadiusServer,
) -> None:
    """With assume_last_client, a portal form posted cross-site (no cookie) still logs in."""
    config = hotspot_router_config(radius, assume_last_client=True)
    async with await start_simulator(SimulatorConfig((config,))) as simulator:
        router = simulator[0]
        client = router.arrive()
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{router.hotspot_url}/login",
                params={"sim-mac": client.mac},
                allow_redirects=False,
            ) as response:
                location = urlsplit(response.headers["Location"])
                params = dict(parse_qsl(location.query, keep_blank_values=True))
            password = chap_password_hex(params["chap-id"], "s3cret", params["chap-challenge"])
            async with http.post(
                params["link-login-only"],
                data={"username": "alice", "password": password, "dst": ""},
                allow_redirects=False,
            ) as response:
                assert response.status == 302
        assert client.logged_in
