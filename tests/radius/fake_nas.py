"""A minimal router Disconnect/CoA listener (RFC 5176) for testing radius.coa."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from pyrad import packet

from radius.dictionary import load_dictionary


@dataclass
class ReceivedRequest:
    code: int
    attributes: dict[str, list[Any]]
    message_authenticator_ok: bool


@dataclass
class FakeNas:
    """Answers ACK for known (User-Name, Framed-IP-Address) sessions, NAK otherwise."""

    secret: str
    host: str = "127.0.0.1"
    sessions: set[tuple[str, str]] = field(default_factory=set)
    silent: bool = False
    received: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> FakeNas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            self._handle(data, addr)

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        request = packet.CoAPacket(packet=data, secret=self.secret.encode(), dict=load_dictionary())
        # A wrong secret is dropped silently, as a router does.
        if not request.VerifyCoARequest():
            return
        ma_ok = request.message_authenticator is not None and bool(
            request.verify_message_authenticator()
        )
        # keys() gives attribute names; iterating the packet gives raw codes.
        names = request.keys()
        attributes = {key: request[key] for key in names if isinstance(key, str)}
        self.received.append(ReceivedRequest(request.code, attributes, ma_ok))
        if self.silent:
            return
        user = attributes.get("User-Name", [""])[0]
        framed_ip = attributes.get("Framed-IP-Address", [""])[0]
        reply = request.CreateReply(message_authenticator=True)
        if (user, framed_ip) not in self.sessions:
            reply.code = (
                packet.DisconnectNAK if request.code == packet.DisconnectRequest else packet.CoANAK
            )
            reply["Error-Cause"] = "Session-Context-Not-Found"
        self._sock.sendto(reply.ReplyPacket(), addr)
