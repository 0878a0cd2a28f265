"""End to end: a simulated router's hotspot against a private FreeRADIUS on the daemon's db."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hotspotd.db import Database
from radius.accounting import AcctSession, open_sessions, user_sessions
from radius.coa import disconnect
from radius.groups import set_plan_group
from radius.nas import add_nas
from radius.users import set_user
from routers.simulator.run import RouterConfig, RunningRouter, SimulatorConfig, start_simulator
from tests.support.fake_radius import wait_until
from tests.support.freeradius import RadiusServer, freeradius_on_new_database

NAS_IP = "127.0.0.7"
NAS_SECRET = "router-seven-secret"
PASSWORD = "e2e-pass-1"


@pytest.fixture(scope="module")
def freeradius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    with freeradius_on_new_database(tmp_path_factory.mktemp("hotspot-freeradius")) as server:
        yield server


@pytest.fixture
async def db(freeradius: RadiusServer) -> AsyncIterator[Database]:
    database = await Database.open(freeradius.db_path)
    yield database
    await database.close()


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def router(freeradius: RadiusServer, db: Database) -> AsyncIterator[RunningRouter]:
    async with db.transaction() as conn:
        await add_nas(conn, ip=NAS_IP, secret=NAS_SECRET, shortname="sim-seven")
        await set_plan_group(
            conn, "e2e-plan", rate_limit="2M/5M", shared_devices=1, data_quota_bytes=None
        )
    config = RouterConfig(
        identity="sim-seven",
        address=NAS_IP,
        radius_server=freeradius.host,
        radius_auth_port=freeradius.auth_port,
        radius_acct_port=freeradius.acct_port,
        radius_secret=NAS_SECRET,
        radius_timeout="2s",
        incoming_port=_free_udp_port(NAS_IP),
        portal_url="http://portal.test/login",
    )
    simulator = await start_simulator(SimulatorConfig((config,)))
    try:
        yield simulator[0]
    finally:
        await simulator.close()


async def _session(db: Database, username: str) -> AcctSession:
    found: list[AcctSession] = []

    async def poll() -> bool:
        found[:] = await user_sessions(db, username)
        return bool(found)

    for _ in range(200):
        if await poll():
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no radacct row for {username}")


async def test_hotspot_freeradius_login_accounting_and_disconnect(
    router: RunningRouter, db: Database
) -> None:
    async with db.transaction() as conn:
        await set_user(
            conn,
            "e2e-user",
            PASSWORD,
            group="e2e-plan",
            expires_at=datetime.now(UTC) + timedelta(hours=2),
        )
    client = router.arrive(mac="aa:bb:cc:07:00:01", ip="10.5.50.71")

    # The router requires Message-Authenticator in replies (RouterOS 7 default): "radius-timeout"
    # here means FreeRADIUS answered without one and the router ignored the answer.
    refused = await client.login("e2e-user", "wrong-password")
    assert not refused.ok and refused.error_orig == "invalid-username"

    attempt = await client.login("e2e-user", PASSWORD, dst="http://neverssl.com/")
    assert attempt.ok, attempt
    session = client.session
    assert session is not None
    assert session.rate_limit == "2M/5M"
    assert session.interim_s == 300
    row = router.router.menu("/ip/hotspot/active").items()[0]
    assert row["session-time-left"].startswith(("1h59m", "2h"))

    started = await _session(db, "e2e-user")
    assert started.is_open
    assert started.nas_ip == NAS_IP
    assert started.session_id == session.acct_session_id
    assert started.framed_ip == "10.5.50.71"
    assert started.mac == "AA:BB:CC:07:00:01"

    client.add_traffic(3 * 2**32 + 10, 1234)
    port = router.incoming_port
    assert port is not None
    acked = await disconnect(
        NAS_IP,
        NAS_SECRET,
        user_name="e2e-user",
        framed_ip="10.5.50.71",
        acct_session_id=session.acct_session_id,
        port=port,
    )
    assert acked
    assert not client.logged_in
    await session.wait_closed()

    stopped = (await user_sessions(db, "e2e-user"))[0]
    assert not stopped.is_open
    assert stopped.terminate_cause == "Admin-Reset"
    assert stopped.input_octets == 3 * 2**32 + 10
    assert stopped.output_octets == 1234
    assert await open_sessions(db, "e2e-user") == []

    # Simultaneous-Use 1: with the first session closed a new login is accepted again.
    assert (await client.login("e2e-user", PASSWORD)).ok
    await wait_until(lambda: client.session is not None and bool(client.session.accounting_sent))
