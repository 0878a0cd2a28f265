"""RADIUS Disconnect-Request and CoA-Request (RFC 5176) to a router."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyrad import packet
from pyrad.client import Client, Timeout

from radius.dictionary import load_dictionary

logger = logging.getLogger(__name__)

COA_PORT = 3799


class CoaError(Exception):
    """The router did not answer (timeout, unreachable) or the request could not be built."""


async def disconnect(
    nas_ip: str,
    secret: str,
    *,
    user_name: str,
    framed_ip: str | None = None,
    acct_session_id: str | None = None,
    port: int = COA_PORT,
    timeout_s: float = 3.0,
    retries: int = 1,
) -> bool:
    """Ask the router to end a session; True on Disconnect-ACK, False on NAK.

    ``retries`` is the number of extra sends after the first one times out.
    """
    attributes = _session_attributes(user_name, framed_ip, acct_session_id)
    return await asyncio.to_thread(
        _send, packet.DisconnectRequest, nas_ip, secret, attributes, port, timeout_s, retries
    )


async def change_of_authorization(
    nas_ip: str,
    secret: str,
    *,
    user_name: str,
    framed_ip: str | None = None,
    acct_session_id: str | None = None,
    attributes: dict[str, str | int],
    port: int = COA_PORT,
    timeout_s: float = 3.0,
    retries: int = 1,
) -> bool:
    """Change a live session (e.g. Mikrotik-Rate-Limit, Session-Timeout); True on CoA-ACK."""
    request_attributes = _session_attributes(user_name, framed_ip, acct_session_id)
    request_attributes.update(attributes)
    return await asyncio.to_thread(
        _send, packet.CoARequest, nas_ip, secret, request_attributes, port, timeout_s, retries
    )


def _session_attributes(
    user_name: str, framed_ip: str | None, acct_session_id: str | None
) -> dict[str, str | int]:
    # User-Name alone (e.g. a MAC) can hit the wireless client instead of the hotspot session:
    # identify it as precisely as known.
    attributes: dict[str, str | int] = {"User-Name": user_name}
    if framed_ip:
        attributes["Framed-IP-Address"] = framed_ip
    if acct_session_id:
        attributes["Acct-Session-Id"] = acct_session_id
    return attributes


def _send(
    code: int,
    nas_ip: str,
    secret: str,
    attributes: dict[str, Any],
    port: int,
    timeout_s: float,
    retries: int,
) -> bool:
    client = Client(
        server=nas_ip,
        coaport=port,
        secret=secret.encode(),
        dict=load_dictionary(),
        retries=retries + 1,
        timeout=timeout_s,
    )
    try:
        try:
            request = client.CreateCoAPacket(code=code, message_authenticator=True)
            for name, value in attributes.items():
                request[name] = value
        except (KeyError, ValueError, TypeError) as exc:
            raise CoaError(f"cannot build request: {exc}") from exc
        try:
            reply = client.SendPacket(request)
        except Timeout as exc:
            raise CoaError(f"no answer from {nas_ip}:{port}") from exc
        except OSError as exc:
            raise CoaError(f"cannot reach {nas_ip}:{port}: {exc}") from exc
    finally:
        client._CloseSocket()
    if reply.code in (packet.DisconnectACK, packet.CoAACK):
        return True
    if reply.code in (packet.DisconnectNAK, packet.CoANAK):
        cause = reply.get("Error-Cause")
        logger.info("%s:%d refused the request (Error-Cause %s)", nas_ip, port, cause)
        return False
    raise CoaError(f"unexpected reply code {reply.code} from {nas_ip}:{port}")
