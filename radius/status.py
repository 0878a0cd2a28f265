"""Status-Server health check of a RADIUS server (RFC 5997)."""

from __future__ import annotations

import asyncio
import logging

from pyrad import packet

from radius.dictionary import load_dictionary

logger = logging.getLogger(__name__)


class _ReplyProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected socket an ICMP port-unreachable arrives here: fail fast.
        self.replies.put_nowait(exc)


async def check_radius(host: str, port: int, secret: str, timeout_s: float = 2.0) -> bool:
    """Return True if the server answers a Status-Server with a valid reply in time."""
    request = packet.AuthPacket(
        code=packet.StatusServer,
        secret=secret.encode(),
        dict=load_dictionary(),
        message_authenticator=True,
    )
    raw = request.RequestPacket()
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            _ReplyProtocol, remote_addr=(host, port)
        )
    except OSError as exc:
        logger.debug("status check of %s:%d failed: %s", host, port, exc)
        return False
    try:
        transport.sendto(raw)
        async with asyncio.timeout(timeout_s):
            while True:
                data = await protocol.replies.get()
                if isinstance(data, Exception):
                    logger.debug("status check of %s:%d failed: %s", host, port, data)
                    return False
                try:
                    reply = request.CreateReply(packet=data)
                    if request.VerifyReply(reply, data):
                        return True
                except packet.PacketError:
                    pass
    except TimeoutError:
        return False
    finally:
        transport.close()
