"""Hotspot accounting and session limits: Start/Interim/Stop, gigawords, timeouts, byte limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from routers.simulator.run import RunningRouter, SimulatorConfig, start_simulator
from tests.support.fake_radius import FakeRadiusServer, hotspot_router_config


@pytest.fixture
async def radius() -> AsyncIterator[FakeRadiusServer]:
    async with FakeRadiusServer() as server:
        yield server


@pytest.fixture
async def hotspot(radius: FakeRadiusServer) -> AsyncIterator[RunningRouter]:
    simulator = await start_simulator(SimulatorConfig((hotspot_router_config(radius),)))
    try:
        yield simulator[0]
    finally:
        await simulator.close()


async def test_hotspot_accounting_on_at_start(radius: FakeRadiusServer) -> None:
    config = hotspot_router_config(radius, identity="boot-test")
    async with await start_simulator(SimulatorConfig((config,))):
        (on,) = radius.accounting("Accounting-On")
        assert on.get("NAS-Identifier") == "boot-test"
        assert on.get("NAS-IP-Address") == "127.0.0.1"


async def test_hotspot_accounting_start_interim_stop_with_counters(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("carol", "pw", Acct_Interim_Interval=1, Class=b"plan-7")
    client = hotspot.arrive(mac="aa:bb:cc:00:01:01", ip="10.5.50.101")
    assert (await client.login("carol", "pw")).ok
    session = client.session
    assert session is not None

    (start,) = await radius.wait_accounting("Start")
    assert start.get("User-Name") == "carol"
    assert start.get("Acct-Session-Id") == session.acct_session_id
    assert start.get("NAS-Identifier") == "hs-test"
    assert start.get("NAS-IP-Address") == "127.0.0.1"
    assert start.get("Framed-IP-Address") == "10.5.50.101"
    assert start.get("Calling-Station-Id") == "AA:BB:CC:00:01:01"
    assert start.get("Called-Station-Id") == "hotspot1"
    assert start.get("Class") == b"plan-7"
    assert "Acct-Session-Time" not in start.request

    client.add_traffic(1000, 250_000)
    interim = (await radius.wait_accounting("Interim-Update"))[0]
    assert interim.get("Acct-Input-Octets") == 1000
    assert interim.get("Acct-Output-Octets") == 250_000
    assert interim.get("Acct-Input-Gigawords") == 0
    assert interim.get("Acct-Session-Id") == session.acct_session_id

    hotspot.sessions.refresh()
    row = hotspot.router.menu("/ip/hotspot/active").items()[0]
    assert row["bytes-in"] == "1000"
    assert row["bytes-out"] == "250000"

    await client.logout()
    (stop,) = radius.accounting("Stop")
    assert stop.get("Acct-Terminate-Cause") == "User-Request"
    assert stop.get("Acct-Output-Octets") == 250_000
    assert stop.get("Acct-Session-Time") >= 1
    assert session.accounting_sent[0] == "Start" and session.accounting_sent[-1] == "Stop"


async def test_hotspot_accounting_counters_wrap_into_gigawords(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("dave", "pw")
    client = hotspot.arrive()
    assert (await client.login("dave", "pw")).ok
    client.add_traffic(2 * 2**32 + 5, 5 * 2**32 + 123)
    await client.logout()
    (stop,) = radius.accounting("Stop")
    assert stop.get("Acct-Input-Gigawords") == 2
    assert stop.get("Acct-Input-Octets") == 5
    assert stop.get("Acct-Output-Gigawords") == 5
    assert stop.get("Acct-Output-Octets") == 123


@pytest.mark.parametrize(
    ("reply", "traffic", "cause"),
    [
        ({"Session_Timeout": 1}, None, "Session-Timeout"),
        ({"Idle_Timeout": 1}, None, "Idle-Timeout"),
        ({"Mikrotik_Total_Limit": 1000}, (600, 500), "NAS-Request"),
        ({"Mikrotik_Recv_Limit": 100}, (150, 0), "NAS-Request"),
        ({"Mikrotik_Xmit_Limit_Gigawords": 1, "Mikrotik_Xmit_Limit": 0}, (0, 2**32), "NAS-Request"),
    ],
)
async def test_hotspot_session_limits_end_session(
    hotspot: RunningRouter,
    radius: FakeRadiusServer,
    reply: dict[str, int],
    traffic: tuple[int, int] | None,
    cause: str,
) -> None:
    radius.add_user("erin", "pw", **reply)
    client = hotspot.arrive()
    assert (await client.login("erin", "pw")).ok
    if traffic is not None:
        client.add_traffic(*traffic)
    (stop,) = await radius.wait_accounting("Stop", timeout_s=5)
    assert stop.get("Acct-Terminate-Cause") == cause
    assert not client.logged_in
    assert hotspot.router.menu("/ip/hotspot/active").items() == []


async def test_hotspot_idle_timeout_is_reset_by_traffic(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("fay", "pw", Idle_Timeout=1)
    client = hotspot.arrive()
    assert (await client.login("fay", "pw")).ok
    for _ in range(4):
        await asyncio.sleep(0.4)
        client.add_traffic(10, 10)
    assert client.logged_in
    (stop,) = await radius.wait_accounting("Stop", timeout_s=5)
    assert stop.get("Acct-Terminate-Cause") == "Idle-Timeout"


async def test_hotspot_remove_from_active_menu_sends_admin_reset(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("gus", "pw")
    client = hotspot.arrive()
    assert (await client.login("gus", "pw")).ok
    row = hotspot.router.menu("/ip/hotspot/active").items()[0]
    hotspot.router.menu("/ip/hotspot/active").remove(row[".id"])
    assert not client.logged_in
    (stop,) = await radius.wait_accounting("Stop")
    assert stop.get("Acct-Terminate-Cause") == "Admin-Reset"


async def test_hotspot_client_leaving_ends_session_lost_carrier(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("hal", "pw")
    client = hotspot.arrive()
    assert (await client.login("hal", "pw")).ok
    client.leave()
    (stop,) = await radius.wait_accounting("Stop")
    assert stop.get("Acct-Terminate-Cause") == "Lost-Carrier"
    assert hotspot.sessions.host(client.mac) is None


async def test_hotspot_nas_ip_is_the_routers_own_address(radius: FakeRadiusServer) -> None:
    radius.add_user("ivy", "pw")
    config = hotspot_router_config(radius, identity="router-five", address="127.0.0.5")
    async with await start_simulator(SimulatorConfig((config,))) as simulator:
        client = simulator[0].arrive()
        assert (await client.login("ivy", "pw")).ok
        request = radius.auth_requests[0]
        assert request.source[0] == "127.0.0.5"
        assert request.get("NAS-IP-Address") == "127.0.0.5"
        assert radius.accounting("Accounting-On")[0].source[0] == "127.0.0.5"


async def test_hotspot_accounting_off_when_profile_says_so(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    hotspot.router.menu("/ip/hotspot/profile").set("hsprof1", {"radius-accounting": "no"})
    radius.add_user("jo", "pw")
    client = hotspot.arrive()
    assert (await client.login("jo", "pw")).ok
    await client.logout()
    assert radius.accounting("Start") == [] and radius.accounting("Stop") == []


async def test_hotspot_interim_from_profile_duration(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    hotspot.router.menu("/ip/hotspot/profile").set("hsprof1", {"radius-interim-update": "1s"})
    radius.add_user("kim", "pw", Acct_Interim_Interval=3600)
    client = hotspot.arrive()
    assert (await client.login("kim", "pw")).ok
    await radius.wait_accounting("Interim-Update", timeout_s=3)


async def test_hotspot_reboot_drops_sessions_without_stop_and_sends_accounting_on(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    radius.add_user("lee", "pw")
    client = hotspot.arrive()
    assert (await client.login("lee", "pw")).ok
    await radius.wait_accounting("Start")
    await hotspot.reboot()
    await radius.wait_accounting("Accounting-On", 2)
    assert radius.accounting("Stop") == []
    assert hotspot.router.menu("/ip/hotspot/active").items() == []
    assert hotspot.router.menu("/ip/hotspot/host").items() == []
    assert not client.logged_in
    # Devices come back after the reboot and log in again.
    again = hotspot.arrive(mac=client.mac, ip=client.ip)
    assert (await again.login("lee", "pw")).ok
