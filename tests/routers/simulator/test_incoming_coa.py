"""RADIUS incoming on a simulated router: Disconnect-Request and CoA-Request, answered as a NAS."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pyrad import packet
from pyrad.client_async import ClientAsync

from radius.dictionary import load_dictionary
from routers.simulator.run import RunningRouter, SimulatorConfig, start_simulator
from tests.support.fake_radius import FakeRadiusServer, hotspot_router_config, wait_until


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def radius() -> AsyncIterator[FakeRadiusServer]:
    async with FakeRadiusServer() as server:
        server.add_user("alice", "pw", Session_Timeout=3600, Mikrotik_Rate_Limit="1M/1M")
        yield server


@pytest.fixture
async def hotspot(radius: FakeRadiusServer) -> AsyncIterator[RunningRouter]:
    config = hotspot_router_config(radius, incoming_port=free_udp_port())
    simulator = await start_simulator(SimulatorConfig((config,)))
    try:
        yield simulator[0]
    finally:
        await simulator.close()


async def send(
    port: int, code: int, secret: bytes = b"testing123", timeout_s: float = 1.0, **attrs: Any
) -> packet.Packet:
    """Send one Disconnect/CoA request from 127.0.0.1 and return the reply."""
    client = ClientAsync(
        server="127.0.0.1",
        coa_port=port,
        secret=secret,
        dict=load_dictionary(),
        retries=0,
        timeout=timeout_s,
    )
    await client.initialize_transports(enable_coa=True)
    try:
        request = client.CreateCoAPacket(code=code)
        for name, value in attrs.items():
            request[name.replace("_", "-")] = value
        request.add_message_authenticator()
        return await client.SendPacket(request)
    finally:
        await client.deinitialize_transports()


async def logged_in(hotspot: RunningRouter, ip: str = "10.5.50.50") -> Any:
    client = hotspot.arrive(mac="aa:bb:cc:00:02:01", ip=ip)
    assert (await client.login("alice", "pw")).ok
    return client


async def test_incoming_disconnect_ends_session_with_admin_reset(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = await logged_in(hotspot)
    port = hotspot.incoming_port
    assert port is not None
    reply = await send(
        port,
        packet.DisconnectRequest,
        User_Name="alice",
        Framed_IP_Address="10.5.50.50",
        Acct_Session_Id=client.session.acct_session_id,
    )
    assert reply.code == packet.DisconnectACK
    assert reply.message_authenticator
    assert not client.logged_in
    assert hotspot.router.menu("/ip/hotspot/active").items() == []
    (stop,) = await radius.wait_accounting("Stop")
    assert stop.get("Acct-Terminate-Cause") == "Admin-Reset"


async def test_incoming_disconnect_unknown_session_is_nak_503(
    hotspot: RunningRouter,
) -> None:
    client = await logged_in(hotspot)
    port = hotspot.incoming_port
    assert port is not None
    reply = await send(
        port, packet.DisconnectRequest, User_Name="alice", Framed_IP_Address="10.5.50.99"
    )
    assert reply.code == packet.DisconnectNAK
    assert reply["Error-Cause"] == ["Session-Context-Not-Found"]
    assert client.logged_in


async def test_incoming_wrong_nas_ip_is_nak(hotspot: RunningRouter) -> None:
    await logged_in(hotspot)
    port = hotspot.incoming_port
    assert port is not None
    reply = await send(
        port, packet.DisconnectRequest, User_Name="alice", NAS_IP_Address="192.0.2.1"
    )
    assert reply.code == packet.DisconnectNAK
    assert reply["Error-Cause"] == ["NAS-Identification-Mismatch"]


async def test_incoming_wrong_secret_is_dropped_silently(hotspot: RunningRouter) -> None:
    client = await logged_in(hotspot)
    port = hotspot.incoming_port
    assert port is not None
    with pytest.raises(TimeoutError):
        await send(
            port,
            packet.DisconnectRequest,
            secret=b"not-the-secret",
            timeout_s=0.3,
            User_Name="alice",
            Framed_IP_Address="10.5.50.50",
        )
    assert client.logged_in


async def test_incoming_coa_changes_rate_limit_and_session_timeout_live(
    hotspot: RunningRouter, radius: FakeRadiusServer
) -> None:
    client = await logged_in(hotspot)
    port = hotspot.incoming_port
    assert port is not None
    reply = await send(
        port,
        packet.CoARequest,
        User_Name="alice",
        Framed_IP_Address="10.5.50.50",
        Mikrotik_Rate_Limit="4M/8M",
        Session_Timeout=1,
    )
    assert reply.code == packet.CoAACK
    assert client.session.rate_limit == "4M/8M"
    (stop,) = await radius.wait_accounting("Stop", timeout_s=5)
    assert stop.get("Acct-Terminate-Cause") == "Session-Timeout"


async def test_incoming_coa_unknown_session_is_coa_nak(hotspot: RunningRouter) -> None:
    port = hotspot.incoming_port
    assert port is not None
    reply = await send(port, packet.CoARequest, User_Name="nobody", Mikrotik_Rate_Limit="1M")
    assert reply.code == packet.CoANAK
    assert reply["Error-Cause"] == ["Session-Context-Not-Found"]


async def test_incoming_follows_radius_incoming_menu(hotspot: RunningRouter) -> None:
    menu = hotspot.router.menu("/radius/incoming")
    new_port = free_udp_port()
    menu.set("", {"port": str(new_port)})
    await wait_until(lambda: hotspot.incoming_port == new_port, 5)
    await logged_in(hotspot)
    reply = await send(new_port, packet.DisconnectRequest, User_Name="alice")
    assert reply.code == packet.DisconnectACK

    menu.set("", {"accept": "no"})
    await wait_until(lambda: hotspot.incoming_port is None, 5)
    with pytest.raises((TimeoutError, ConnectionRefusedError)):
        await send(new_port, packet.DisconnectRequest, timeout_s=0.3, User_Name="alice")


async def test_incoming_not_listening_by_default(radius: FakeRadiusServer) -> None:
    config = hotspot_router_config(radius, incoming_port=None)
    async with await start_simulator(SimulatorConfig((config,))) as simulator:
        assert simulator[0].incoming_port is None
        await asyncio.sleep(0)
