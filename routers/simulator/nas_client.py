"""RADIUS client of a simulated router: Access-Request and accounting as a MikroTik sends them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyrad import packet
from pyrad.client_async import ClientAsync

from routers.simulator.model import parse_duration

if TYPE_CHECKING:
    from pyrad.dictionary import Dictionary

    from routers.simulator.model import SimulatedRouter

logger = logging.getLogger(__name__)

# RouterOS default for /radius timeout; MikroTik retransmits a few times before it gives up.
DEFAULT_TIMEOUT_S = 0.3
DEFAULT_RETRIES = 2
# pyrad has 256 packet ids per socket: keep fewer requests than that in flight.
MAX_IN_FLIGHT = 200


class RadiusUnavailable(Exception):
    """No configured RADIUS server answered (or none is configured)."""


@dataclass(frozen=True)
class RadiusServer:
    """One enabled /radius entry."""

    address: str
    secret: bytes
    auth_port: int
    acct_port: int
    timeout_s: float
    require_message_auth: bool


@dataclass
class AuthOutcome:
    """Result of an Access-Request: accepted or not, and the decoded reply attributes."""

    accepted: bool
    attributes: dict[str, list[Any]] = field(default_factory=dict)

    def first(self, name: str) -> Any | None:
        """Return the first value of a reply attribute, or None."""
        values = self.attributes.get(name)
        return values[0] if values else None

    @property
    def reply_message(self) -> str | None:
        """Return the Reply-Message text, joined when the server split it."""
        parts = self.attributes.get("Reply-Message")
        if not parts:
            return None
        return "".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in parts)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "yes"}


def radius_servers(router: SimulatedRouter, service: str = "hotspot") -> list[RadiusServer]:
    """Return the enabled /radius entries for a service, in menu order."""
    servers = []
    for item in router.menu("/radius").items():
        services = {s.strip() for s in item.get("service", "").split(",") if s.strip()}
        if service not in services or _is_true(item.get("disabled")):
            continue
        address = item.get("address", "").strip()
        if not address:
            continue
        servers.append(
            RadiusServer(
                address=address,
                secret=item.get("secret", "").encode(),
                auth_port=int(item.get("authentication-port") or 1812),
                acct_port=int(item.get("accounting-port") or 1813),
                timeout_s=_timeout_s(item.get("timeout", "")),
                require_message_auth=_is_true(item.get("require-message-auth", "true")),
            )
        )
    return servers


def _timeout_s(text: str) -> float:
    try:
        return parse_duration(text) or DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _decode_reply(reply: packet.Packet) -> dict[str, list[Any]]:
    attributes: dict[str, list[Any]] = {}
    for key in reply.keys():  # noqa: SIM118 (pyrad keys() decodes names)
        if not isinstance(key, str):
            continue  # attributes missing from the dictionary come back keyed by code
        attributes[key] = list(reply[key])
    return attributes


class NasClient:
    """Sends a router's RADIUS requests from its NAS address, to the servers in its /radius menu."""

    def __init__(
        self,
        router: SimulatedRouter,
        *,
        nas_ip: str,
        dictionary: Dictionary,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self._router = router
        self.nas_ip = nas_ip
        self._dictionary = dictionary
        self._retries = retries
        self._clients: dict[RadiusServer, ClientAsync] = {}
        self._lock = asyncio.Lock()
        self._auth_slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._acct_slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def _client(self, server: RadiusServer) -> ClientAsync:
        async with self._lock:
            client = self._clients.get(server)
            if client is None:
                client = ClientAsync(
                    server=server.address,
                    auth_port=server.auth_port,
                    acct_port=server.acct_port,
                    secret=server.secret,
                    dict=self._dictionary,
                    retries=self._retries,
                    timeout=server.timeout_s,
                    enforce_ma=server.require_message_auth,
                    logger_name=__name__ + ".pyrad",
                )
                # Bound to the router's own address: FreeRADIUS identifies the NAS by source IP.
                await client.initialize_transports(
                    enable_auth=True, enable_acct=True, local_addr=self.nas_ip
                )
                self._clients[server] = client
            return client

    async def _prune(self, current: Iterable[RadiusServer]) -> None:
        keep = set(current)
        async with self._lock:
            stale = [s for s in self._clients if s not in keep]
            for server in stale:
                await self._clients.pop(server).deinitialize_transports()

    async def authenticate(
        self,
        attributes: Mapping[str, Any],
        *,
        password: str | None = None,
        chap: tuple[int, bytes, bytes] | None = None,
    ) -> AuthOutcome:
        """Send an Access-Request (PAP `password`, or `chap` = (id, md5, challenge)); return it."""
        servers = radius_servers(self._router)
        await self._prune(servers)
        if not servers:
            raise RadiusUnavailable("no RADIUS server configured for hotspot")
        for server in servers:
            client = await self._client(server)
            try:
                async with self._auth_slots:
                    request = client.CreateAuthPacket(code=packet.AccessRequest)
                    for name, value in attributes.items():
                        request[name] = value
                    if chap is not None:
                        chap_id, response, challenge = chap
                        request["CHAP-Password"] = bytes([chap_id]) + response
                        request["CHAP-Challenge"] = challenge
                    elif password is not None:
                        request["User-Password"] = request.PwCrypt(password)
                    reply = await client.SendPacket(request)
            except (TimeoutError, ConnectionAbortedError):
                logger.warning(
                    "RADIUS server %s:%d did not answer", server.address, server.auth_port
                )
                continue
            return AuthOutcome(
                accepted=reply.code == packet.AccessAccept, attributes=_decode_reply(reply)
            )
        raise RadiusUnavailable("RADIUS server is not responding")

    async def account(self, attributes: Mapping[str, Any]) -> bool:
        """Send an Accounting-Request; return whether a server answered it."""
        servers = radius_servers(self._router)
        await self._prune(servers)
        for server in servers:
            client = await self._client(server)
            try:
                async with self._acct_slots:
                    request = client.CreateAcctPacket(code=packet.AccountingRequest)
                    for name, value in attributes.items():
                        request[name] = value
                    await client.SendPacket(request)
            except (TimeoutError, ConnectionAbortedError):
                logger.warning(
                    "RADIUS accounting server %s:%d did not answer",
                    server.address,
                    server.acct_port,
                )
                continue
            return True
        return False

    async def close(self) -> None:
        """Close every socket."""
        await self._prune(())
