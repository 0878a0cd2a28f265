"""RouterClient against the simulator: calls, errors an operator can act on, reconnects."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from routers import hotspot_ops
from routers.client import RouterClient, RouterError
from routers.credentials import CredentialsError, decrypt_password, encrypt_password
from routers.simulator.api_server import start_api_server
from routers.simulator.model import SimulatedRouter
from routers.simulator.run import RunningRouter
from routers.simulator.tls import anonymous_server_context, certificate_server_context
from tests.routers.conftest import ROUTER_PASSWORD, StartRouter
from tests.support.fake_radius import wait_until


def _client(router: RunningRouter, **overrides: object) -> RouterClient:
    values: dict[str, object] = {
        "port": router.api_port,
        "username": "admin",
        "password": ROUTER_PASSWORD,
        "connect_timeout_s": 1.0,
        "command_timeout_s": 1.0,
    }
    values.update(overrides)
    return RouterClient(router.address, **values)  # type: ignore[arg-type]


async def test_client_reads_system_and_adds_sets_removes(box_router: StartRouter) -> None:
    router = await box_router(identity="core-1")
    async with _client(router) as client:
        system = await hotspot_ops.read_system(client)
        assert system.identity == "core-1"
        assert system.resource.version == "7.18.2 (stable)"
        assert system.resource.board == "hAP ac^2"
        assert system.resource.total_memory == 134217728
        new_id = await client.add("/ip/hotspot/user", {"name": "u1", "password": "p"})
        assert new_id.startswith("*")
        await client.set("/ip/hotspot/user", new_id, {"comment": "vip"})
        rows = await client.print("/ip/hotspot/user", ("name", "comment"), queries={"name": "u1"})
        assert rows == [{"name": "u1", "comment": "vip"}]
        await client.remove("/ip/hotspot/user", new_id)
        assert await client.print("/ip/hotspot/user") == []
    await wait_until(lambda: router.api.connection_count == 0)


async def test_client_trap_is_a_router_error_and_the_next_call_reconnects(
    box_router: StartRouter,
) -> None:
    router = await box_router()
    async with _client(router) as client:
        with pytest.raises(RouterError) as failure:
            await client.add("/ip/hotspot/user", {"name": ""})
        assert failure.value.kind == "trap"
        assert "/ip/hotspot/user/add: failure: name must be set" in str(failure.value)
        assert await hotspot_ops.read_identity(client) == router.config.identity


async def test_client_survives_a_dropped_connection(box_router: StartRouter) -> None:
    router = await box_router()
    async with _client(router) as client:
        await client.print("/system/identity")
        router.api.drop_connections()
        with pytest.raises(RouterError) as failure:
            await client.print("/system/identity")
        assert failure.value.kind == "unreachable"
        assert await client.print("/system/identity") == [{"name": router.config.identity}]


async def test_client_command_timeout_frees_the_thread(box_router: StartRouter) -> None:
    router = await box_router()
    router.router.delay_s["/ip/hotspot/user/print"] = 5.0
    async with _client(router, command_timeout_s=0.3) as client:
        started = time.monotonic()
        with pytest.raises(RouterError) as failure:
            await client.print("/ip/hotspot/user")
        assert failure.value.kind == "timeout"
        assert time.monotonic() - started < 1.5
        # The connection was dropped and the thread is free for the next call.
        assert (await client.print("/system/identity"))[0]["name"] == router.config.identity


async def test_client_calls_from_many_tasks_are_serialised(box_router: StartRouter) -> None:
    router = await box_router()
    async with _client(router) as client:
        results = await asyncio.gather(*(client.print("/system/identity") for _ in range(50)))
    assert all(rows == [{"name": router.config.identity}] for rows in results)


async def test_client_outer_cancellation_aborts_a_hanging_call(box_router: StartRouter) -> None:
    router = await box_router()
    router.api.hang = True
    client = _client(router, connect_timeout_s=5.0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.connect()
    await client.close()
    assert time.monotonic() - started < 1.5


def test_credentials_round_trip_and_clear_errors(make_settings: object) -> None:
    settings = make_settings()  # type: ignore[operator]
    token = encrypt_password(settings, "s3cret")
    assert "s3cret" not in token
    assert decrypt_password(settings, token) == "s3cret"
    missing = make_settings(routers={"credentials_key": ""})  # type: ignore[operator]
    with pytest.raises(CredentialsError, match="credentials_key is not set"):
        encrypt_password(missing, "x")
    invalid = make_settings(routers={"credentials_key": "short"})  # type: ignore[operator]
    with pytest.raises(CredentialsError, match="not a valid Fernet key"):
        encrypt_password(invalid, "x")
    other = make_settings(  # type: ignore[operator]
        routers={"credentials_key": "3J0t9tX3h6LhW2yqZ1m6lC1o0PzQ8y5m1Qy2K7d4ZlE="}
    )
    with pytest.raises(CredentialsError, match="cannot be decrypted"):
        decrypt_password(other, token)


def test_versions_and_durations() -> None:
    assert hotspot_ops.parse_version("7.18.2 (stable)") == (7, 18, 2)
    assert hotspot_ops.parse_version("6.49") == (6, 49, 0)
    hotspot_ops.check_supported("6.45.9")
    with pytest.raises(RouterError, match="not supported"):
        hotspot_ops.check_supported("6.44.6")
    assert hotspot_ops.parse_duration_s("1w2d3h4m5s") == 7 * 86400 + 2 * 86400 + 3 * 3600 + 245
    assert hotspot_ops.parse_duration_s("300ms") == 0
    assert hotspot_ops.parse_duration_s("1d02:00:10") == 86400 + 7210
    assert hotspot_ops.parse_duration_s("") == 0


async def test_client_error_for_unreachable_address() -> None:
    # Nothing listens there: refused at once, with the reason in the message.
    with socket.socket() as sock:
        sock.bind(("127.0.1.250", 0))
        port = sock.getsockname()[1]
    async with RouterClient("127.0.1.250", port=port, username="a", password="pw-secret") as client:
        with pytest.raises(RouterError) as failure:
            await client.connect()
    assert failure.value.kind == "unreachable"
    assert "connection refused" in str(failure.value)
    assert "pw-secret" not in repr(client)


@pytest.mark.parametrize("certificate", [False, True])
async def test_client_tls_anonymous_dh_and_certificate(tmp_path: Path, certificate: bool) -> None:
    from tests.routers.simulator.test_api_clients import _self_signed

    if certificate:
        context = certificate_server_context(*_self_signed(tmp_path))
    else:
        context = anonymous_server_context()
    model = SimulatedRouter(identity="tls-router", password=ROUTER_PASSWORD)
    server = await start_api_server(model, host="127.0.1.251", ssl=context)
    try:
        async with RouterClient(
            "127.0.1.251",
            port=server.port,
            username="admin",
            password=ROUTER_PASSWORD,
            use_tls=True,
            connect_timeout_s=2.0,
        ) as client:
            assert await hotspot_ops.read_identity(client) == "tls-router"
    finally:
        await server.close()
