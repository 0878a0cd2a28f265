"""RADIUS Disconnect/CoA listener of a simulated router (`/radius/incoming`)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from pyrad import packet

from routers.simulator.sessions import Session, SessionManager, normalise_mac

if TYPE_CHECKING:
    from pyrad.dictionary import Dictionary

logger = logging.getLogger(__name__)

INCOMING = "/radius/incoming"

# RFC 5176 Error-Cause values.
MISSING_ATTRIBUTE = "Missing-Attribute"
NAS_IDENTIFICATION_MISMATCH = "NAS-Identification-Mismatch"
SESSION_CONTEXT_NOT_FOUND = "Session-Context-Not-Found"

# Attributes a CoA may change on a live hotspot session.
COA_ATTRIBUTES = (
    "Mikrotik-Rate-Limit",
    "Session-Timeout",
    "Idle-Timeout",
    "Acct-Interim-Interval",
    "Mikrotik-Group",
    "Mikrotik-Recv-Limit",
    "Mikrotik-Recv-Limit-Gigawords",
    "Mikrotik-Xmit-Limit",
    "Mikrotik-Xmit-Limit-Gigawords",
    "Mikrotik-Total-Limit",
    "Mikrotik-Total-Limit-Gigawords",
    "Mikrotik-Address-List",
)


def _first(request: packet.Packet, name: str) -> Any | None:
    try:
        values = request.get(name)
    except KeyError:
        return None
    return values[0] if values else None


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, listener: IncomingListener) -> None:
        self._listener = listener
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector datagram transport does not subclass DatagramTransport in 3.11)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._listener.handle(data, str(addr[0]))
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("incoming RADIUS socket error: %s", exc)


class IncomingListener:
    """Answers Disconnect-Request and CoA-Request on the port set in /radius/incoming."""

    def __init__(self, sessions: SessionManager, *, address: str, dictionary: Dictionary) -> None:
        self.sessions = sessions
        self.router = sessions.router
        self.address = address
        self._dictionary = dictionary
        self._transport: asyncio.DatagramTransport | None = None
        self._bound: tuple[bool, int] | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        # What was answered, oldest first: (request code, reply code) for tests and the demo.
        self.handled: list[tuple[int, int]] = []

    @property
    def port(self) -> int | None:
        """Return the UDP port listened on, or None when not accepting."""
        if self._transport is None:
            return None
        return int(self._transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        """Listen as configured, and follow later changes of /radius/incoming."""
        self.router.menu(INCOMING).on_change.append(self._on_change)
        await self.reconfigure()

    async def close(self) -> None:
        """Stop listening and stop following the menu."""
        menu = self.router.menu(INCOMING)
        if self._on_change in menu.on_change:
            menu.on_change.remove(self._on_change)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            self._unbind()

    def _on_change(self, _item_id: str, _item: dict[str, str]) -> None:
        task = asyncio.get_running_loop().create_task(self.reconfigure())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reconfigure(self) -> None:
        """Bind, re-bind or close the socket to match /radius/incoming."""
        settings = self.router.menu(INCOMING).get("")
        accept = settings.get("accept", "false").lower() in {"true", "yes"}
        try:
            port = int(settings.get("port") or 1700)
        except ValueError:
            port = 1700
        async with self._lock:
            if self._bound == (accept, port) and (self._transport is not None or not accept):
                return
            self._unbind()
            self._bound = (accept, port)
            if not accept:
                return
            loop = asyncio.get_running_loop()
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self), local_addr=(self.address, port)
                )
            except OSError as exc:
                logger.error(
                    "router %s: cannot listen for RADIUS incoming on %s:%d: %s",
                    self.sessions.identity,
                    self.address,
                    port,
                    exc,
                )
                return
            self._transport = transport
            logger.info(
                "router %s: accepting RADIUS Disconnect/CoA on %s:%d",
                self.sessions.identity,
                self.address,
                self.port,
            )

    def _unbind(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- packets -----------------------------------------------------------------------------------
    def _decode(self, data: bytes, source_ip: str) -> packet.CoAPacket | None:
        """Decode and authenticate a request with the secret of the /radius entry at its source."""
        if len(data) < 20 or data[0] not in (packet.DisconnectRequest, packet.CoARequest):
            return None
        for item in self.router.menu("/radius").items():
            if item.get("address") != source_ip or item.get("disabled") == "true":
                continue
            try:
                request = packet.CoAPacket(
                    packet=data, secret=item.get("secret", "").encode(), dict=self._dictionary
                )
            except packet.PacketError:
                return None
            if not request.VerifyCoARequest():
                continue
            if request.message_authenticator and not request.verify_message_authenticator():
                continue
            return request
        return None

    def handle(self, data: bytes, source_ip: str) -> bytes | None:
        """Answer one datagram; None drops it (unknown source or wrong secret: silently)."""
        request = self._decode(data, source_ip)
        if request is None:
            logger.debug(
                "router %s: dropped RADIUS incoming from %s", self.sessions.identity, source_ip
            )
            return None
        reply = request.CreateReply()
        is_disconnect = request.code == packet.DisconnectRequest
        nak = packet.DisconnectNAK if is_disconnect else packet.CoANAK
        error = self._check_nas(request)
        sessions: list[Session] = []
        if error is None:
            sessions, error = self._match(request)
        if error is not None:
            reply.code = nak
            reply["Error-Cause"] = error
        elif is_disconnect:
            for session in sessions:
                self.sessions.request_end(session, "Admin-Reset")
        else:
            changes = {name: list(request[name]) for name in COA_ATTRIBUTES if name in request}
            for session in sessions:
                self.sessions.apply_change(session, changes)
        reply.add_message_authenticator()
        self.handled.append((request.code, reply.code))
        logger.info(
            "router %s: RADIUS %s from %s -> %s (%d session(s))",
            self.sessions.identity,
            "Disconnect" if is_disconnect else "CoA",
            source_ip,
            "NAK" if reply.code == nak else "ACK",
            len(sessions),
        )
        return bytes(reply.ReplyPacket())

    def _check_nas(self, request: packet.CoAPacket) -> str | None:
        nas_ip = _first(request, "NAS-IP-Address")
        if nas_ip is not None and nas_ip != self.sessions.nas.nas_ip:
            return NAS_IDENTIFICATION_MISMATCH
        nas_id = _first(request, "NAS-Identifier")
        if nas_id is not None and nas_id != self.sessions.identity:
            return NAS_IDENTIFICATION_MISMATCH
        return None

    def _match(self, request: packet.CoAPacket) -> tuple[list[Session], str | None]:
        user = _first(request, "User-Name")
        ip = _first(request, "Framed-IP-Address")
        acct_session_id = _first(request, "Acct-Session-Id")
        calling = _first(request, "Calling-Station-Id")
        mac: str | None = None
        if calling is not None:
            try:
                mac = normalise_mac(str(calling))
            except ValueError:
                return [], SESSION_CONTEXT_NOT_FOUND
        if user is None and ip is None and acct_session_id is None and mac is None:
            return [], MISSING_ATTRIBUTE
        sessions = self.sessions.find_sessions(
            user=None if user is None else str(user),
            ip=None if ip is None else str(ip),
            acct_session_id=None if acct_session_id is None else str(acct_session_id),
            mac=mac,
        )
        if not sessions:
            return [], SESSION_CONTEXT_NOT_FOUND
        return sessions, None
