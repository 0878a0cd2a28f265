"""Disconnect-Request and CoA-Request against a fake router."""

from __future__ import annotations

import time

import pytest
from pyrad import packet

from radius.coa import CoaError, change_of_authorization, disconnect
from tests.radius.fake_nas import FakeNas
from tests.support.freeradius import free_udp_port

SECRET = "coa-secret-123"


async def test_disconnect_ack_for_known_session() -> None:
    with FakeNas(SECRET, sessions={("alice", "10.5.50.7")}) as nas:
        ok = await disconnect(
            nas.host,
            SECRET,
            port=nas.port,
            user_name="alice",
            framed_ip="10.5.50.7",
            acct_session_id="81a00001",
        )
    assert ok is True
    (request,) = nas.received
    assert request.code == packet.DisconnectRequest
    assert request.message_authenticator_ok
    assert request.attributes["User-Name"] == ["alice"]
    assert request.attributes["Framed-IP-Address"] == ["10.5.50.7"]
    assert request.attributes["Acct-Session-Id"] == ["81a00001"]


async def test_disconnect_nak_for_unknown_session() -> None:
    with FakeNas(SECRET) as nas:
        ok = await disconnect(
            nas.host, SECRET, port=nas.port, user_name="bob", framed_ip="10.5.50.8"
        )
    assert ok is False


async def test_coa_sends_attributes_and_returns_ack() -> None:
    with FakeNas(SECRET, sessions={("carol", "10.5.50.9")}) as nas:
        ok = await change_of_authorization(
            nas.host,
            SECRET,
            port=nas.port,
            user_name="carol",
            framed_ip="10.5.50.9",
            attributes={"Mikrotik-Rate-Limit": "4M/8M", "Session-Timeout": 600},
        )
    assert ok is True
    (request,) = nas.received
    assert request.code == packet.CoARequest
    assert request.message_authenticator_ok
    assert request.attributes["Mikrotik-Rate-Limit"] == ["4M/8M"]
    assert request.attributes["Session-Timeout"] == [600]


async def test_coa_nak_returns_false() -> None:
    with FakeNas(SECRET) as nas:
        ok = await change_of_authorization(
            nas.host, SECRET, port=nas.port, user_name="dave", attributes={"Session-Timeout": 1}
        )
    assert ok is False


async def test_disconnect_timeout_raises_coa_error_after_retries() -> None:
    with FakeNas(SECRET, silent=True) as nas:
        started = time.monotonic()
        with pytest.raises(CoaError, match="no answer"):
            await disconnect(
                nas.host, SECRET, port=nas.port, user_name="eve", timeout_s=0.2, retries=2
            )
        assert time.monotonic() - started >= 0.6
    assert len(nas.received) == 3


async def test_disconnect_wrong_secret_times_out() -> None:
    with FakeNas(SECRET, sessions={("frank", "10.5.50.11")}) as nas, pytest.raises(CoaError):
        await disconnect(
            nas.host,
            "other-secret",
            port=nas.port,
            user_name="frank",
            framed_ip="10.5.50.11",
            timeout_s=0.2,
            retries=0,
        )
    assert nas.received == []


async def test_disconnect_unreachable_port_raises_coa_error() -> None:
    with pytest.raises(CoaError):
        await disconnect(
            "127.0.0.1", SECRET, port=free_udp_port(), user_name="x", timeout_s=0.3, retries=0
        )


async def test_coa_unknown_attribute_raises_coa_error() -> None:
    with pytest.raises(CoaError, match="cannot build"):
        await change_of_authorization(
            "127.0.0.1", SECRET, user_name="x", attributes={"No-Such-Attribute": 1}
        )
