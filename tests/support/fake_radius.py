"""A small pyrad RADIUS server for tests: accepts/rejects, checks CHAP/PAP, records requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pyrad import packet
from pyrad.dictionary import Dictionary

from radius.dictionary import load_dictionary


@dataclass
class FakeUser:
    """A user the fake server knows: cleartext password and reply attributes."""

    password: str
    reply: dict[str, Any] = field(default_factory=dict)
    reject_message: str | None = None


@dataclass
class Received:
    """One request the fake server accepted for processing."""

    source: tuple[str, int]
    request: packet.Packet

    def get(self, name: str) -> Any | None:
        """Return the first value of an attribute, or None."""
        return self.request[name][0] if name in self.request else None


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, handler: Callable[[bytes, tuple[str, int]], bytes | None]) -> None:
        self._handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector datagram transport does not subclass DatagramTransport in 3.11)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self._handler(data, addr)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


class FakeRadiusServer:
    """Authentication and accounting on two UDP ports of 127.0.0.1."""

    def __init__(self, secret: bytes = b"testing123", dictionary: Dictionary | None = None) -> None:
        self.secret = secret
        self.dictionary = dictionary or load_dictionary()
        self.users: dict[str, FakeUser] = {}
        self.auth_requests: list[Received] = []
        self.acct_requests: list[Received] = []
        # Authentication outcome per request, in order: "accept", "reject" or "invalid".
        self.auth_results: list[str] = []
        self.answer_auth = True
        self.answer_acct = True
        self._transports: list[asyncio.DatagramTransport] = []
        self.auth_port = 0
        self.acct_port = 0

    def add_user(self, name: str, password: str, **reply: Any) -> None:
        """Know a user; reply attributes use '_' for '-' (Session_Timeout=60)."""
        self.users[name] = FakeUser(password, {k.replace("_", "-"): v for k, v in reply.items()})

    async def start(self) -> None:
        """Listen on two free UDP ports."""
        loop = asyncio.get_running_loop()
        for handler, attr in ((self._auth, "auth_port"), (self._acct, "acct_port")):
            transport, _ = await loop.create_datagram_endpoint(
                lambda handler=handler: _Protocol(handler), local_addr=("127.0.0.1", 0)
            )
            self._transports.append(cast(asyncio.DatagramTransport, transport))
            setattr(self, attr, transport.get_extra_info("sockname")[1])

    async def close(self) -> None:
        """Stop listening."""
        for transport in self._transports:
            transport.close()
        self._transports.clear()
        await asyncio.sleep(0)

    async def __aenter__(self) -> FakeRadiusServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _auth(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        request = packet.AuthPacket(packet=data, secret=self.secret, dict=self.dictionary)
        if request.message_authenticator and not request.verify_message_authenticator():
            self.auth_results.append("invalid")
            return None
        self.auth_requests.append(Received(addr, request))
        if not self.answer_auth:
            return None
        name = request["User-Name"][0]
        user = self.users.get(name)
        accepted = False
        if user is not None:
            if "CHAP-Password" in request:
                accepted = bool(request.VerifyChapPasswd(user.password))
            elif "User-Password" in request:
                accepted = request.PwDecrypt(request["User-Password"][0]) == user.password
        reply = request.CreateReply()
        if accepted and user is not None:
            for attr, value in user.reply.items():
                reply[attr] = value
            self.auth_results.append("accept")
        else:
            reply.code = packet.AccessReject
            if user is not None and user.reject_message:
                reply["Reply-Message"] = user.reject_message
            self.auth_results.append("reject")
        return bytes(reply.ReplyPacket())

    def _acct(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        request = packet.AcctPacket(packet=data, secret=self.secret, dict=self.dictionary)
        if not request.VerifyAcctRequest():
            return None
        self.acct_requests.append(Received(addr, request))
        if not self.answer_acct:
            return None
        return bytes(request.CreateReply().ReplyPacket())

    def accounting(self, status: str | None = None) -> list[Received]:
        """Return the accounting requests received, optionally only one Acct-Status-Type."""
        return [
            r for r in self.acct_requests if status is None or r.get("Acct-Status-Type") == status
        ]

    async def wait_accounting(
        self, status: str, count: int = 1, timeout_s: float = 10.0
    ) -> list[Received]:
        """Wait until `count` accounting requests of a status arrived; return them."""
        await wait_until(lambda: len(self.accounting(status)) >= count, timeout_s)
        return self.accounting(status)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll predicate until it holds; AssertionError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def hotspot_router_config(radius: FakeRadiusServer, **overrides: Any) -> Any:
    """Return a RouterConfig for one simulated router that authenticates against `radius`."""
    from routers.simulator.run import RouterConfig

    settings: dict[str, Any] = {
        "identity": "hs-test",
        "radius_server": "127.0.0.1",
        "radius_auth_port": radius.auth_port,
        "radius_acct_port": radius.acct_port,
        "radius_secret": radius.secret.decode(),
        "incoming_port": 0,
        "portal_url": "http://portal.test/hotspot/login",
    }
    settings.update(overrides)
    return RouterConfig(**settings)
