"""Running simulated routers: argument parsing, several routers at once, the CLI process, load."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp

from routers.simulator.hotspot import CLIENT_HEADER
from routers.simulator.run import RouterConfig, SimulatorConfig, parse_args, start_simulator
from tests.support.fake_radius import FakeRadiusServer, hotspot_router_config

ROOT = Path(__file__).resolve().parents[3]


def test_hotspot_run_parse_args_many_routers() -> None:
    config, _ = parse_args(
        [
            "--identity",
            "edge",
            "--address",
            "127.0.0.2",
            "--api-port",
            "18728",
            "--hotspot-port",
            "18080",
            "--radius-server",
            "127.0.0.1:11812",
            "--radius-secret",
            "s3cret-s3cret",
            "--incoming-port",
            "13799",
            "--count",
            "3",
            "--step-address",
        ]
    )
    assert [r.identity for r in config.routers] == ["edge-1", "edge-2", "edge-3"]
    assert [r.address for r in config.routers] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [r.api_port for r in config.routers] == [18728, 18729, 18730]
    assert [r.incoming_port for r in config.routers] == [13799, 13800, 13801]
    first = config.routers[0]
    assert (first.radius_server, first.radius_auth_port, first.radius_acct_port) == (
        "127.0.0.1",
        11812,
        11813,
    )
    assert first.radius_require_message_auth


async def test_hotspot_run_two_routers_are_distinct_nases() -> None:
    async with FakeRadiusServer() as radius:
        radius.add_user("u", "pw")
        configs = tuple(
            hotspot_router_config(radius, identity=f"r{n}", address=f"127.0.0.{n}") for n in (2, 3)
        )
        async with await start_simulator(SimulatorConfig(configs)) as simulator:
            one = simulator[0].arrive()
            two = simulator[1].arrive()
            assert (await one.login("u", "pw")).ok
            assert (await two.login("u", "pw")).ok
            sources = sorted((r.source[0], r.get("NAS-Identifier")) for r in radius.auth_requests)
            assert sources == [("127.0.0.2", "r2"), ("127.0.0.3", "r3")]
            assert len(simulator[0].router.menu("/ip/hotspot/active").items()) == 1
            assert len(simulator[1].router.menu("/ip/hotspot/active").items()) == 1


async def test_hotspot_run_cli_process_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "routers.simulator.run",
        "--api-port",
        "0",
        "--hotspot-port",
        "0",
        "--hosts",
        "1",
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        url = None
        while url is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            assert line, "simulator exited before it was ready"
            match = re.search(r"ready: api \S+ hotspot (\S+)", line)
            url = match.group(1) if match else None
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{url}/login",
                headers={CLIENT_HEADER: "02:00:00:00:00:00", "Accept": "application/json"},
            ) as response,
        ):
            assert response.status == 200
            page = await response.json()
        assert page["ip"] == "10.5.50.2"
        assert page["link-login-only"] == f"{url}/login"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0


async def test_hotspot_run_many_concurrent_logins() -> None:
    async with FakeRadiusServer() as radius:
        radius.add_user("bulk", "pw", Acct_Interim_Interval=3600)
        # The fake server shares this event loop with 300 browsers: give it more than 300 ms.
        config = hotspot_router_config(radius, radius_timeout="5s")
        async with await start_simulator(SimulatorConfig((config,))) as simulator:
            router = simulator[0]
            # More than pyrad's 256 ids per socket in flight at once.
            clients = [router.arrive() for _ in range(300)]
            started = time.monotonic()
            attempts = await asyncio.gather(*(c.login("bulk", "pw") for c in clients))
            elapsed = time.monotonic() - started
            assert all(a.ok for a in attempts)
            assert len(router.router.menu("/ip/hotspot/active").items()) == 300
            await radius.wait_accounting("Start", 300)
            assert len({c.session.acct_session_id for c in clients if c.session}) == 300
            assert elapsed < 30


def test_hotspot_run_default_config_is_one_router() -> None:
    assert SimulatorConfig().routers == (RouterConfig(),)
