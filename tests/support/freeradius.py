"""A private FreeRADIUS for tests, and a pyrad client that talks to it like a MikroTik router."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrad import packet
from pyrad.client import Client

from hotspotd.db import Database
from radius.dictionary import load_dictionary
from radius.freeradius_config import RadiusConfigParams, render_config
from radius.freeradius_process import FreeradiusProcess, start_freeradius

LOCAL_SECRET = "hotspotd-test-local"


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port that is free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RadiusServer:
    """A running private FreeRADIUS and how to reach it."""

    host: str
    auth_port: int
    acct_port: int
    secret: str
    config_dir: Path
    db_path: Path
    process: FreeradiusProcess

    def client(
        self,
        *,
        bind_address: str | None = None,
        secret: str | None = None,
        timeout_s: float = 2.0,
    ) -> RadiusTestClient:
        """Return a test client for this server (bind_address looks like another router)."""
        return RadiusTestClient(
            self.host,
            auth_port=self.auth_port,
            acct_port=self.acct_port,
            secret=self.secret if secret is None else secret,
            bind_address=bind_address,
            timeout_s=timeout_s,
        )


def start_private_freeradius(
    base_dir: Path,
    db_path: Path,
    *,
    client_lifetime_s: int = 300,
    nas_networks: tuple[str, ...] = ("0.0.0.0/0",),
) -> RadiusServer:
    """Render a config under base_dir for db_path, start FreeRADIUS on free ports (blocking)."""
    host = "127.0.0.1"
    auth_port = free_udp_port(host)
    acct_port = free_udp_port(host)
    while acct_port == auth_port:
        acct_port = free_udp_port(host)
    config_dir = base_dir / "raddb"
    params = RadiusConfigParams(
        db_path=db_path,
        auth_port=auth_port,
        acct_port=acct_port,
        local_secret=LOCAL_SECRET,
        log_dir=base_dir / "log",
        run_dir=base_dir / "run",
        listen_address=host,
        nas_networks=nas_networks,
        client_lifetime_s=client_lifetime_s,
    )
    render_config(config_dir, params)
    process = asyncio.run(
        start_freeradius(config_dir, host=host, auth_port=auth_port, local_secret=LOCAL_SECRET)
    )
    return RadiusServer(host, auth_port, acct_port, LOCAL_SECRET, config_dir, db_path, process)


async def create_database(db_path: Path) -> None:
    """Create and migrate a database file, as `hotspotd migrate` does."""
    db = await Database.open(db_path)
    await db.close()


@contextlib.contextmanager
def freeradius_on_new_database(base_dir: Path, **kwargs: Any) -> Iterator[RadiusServer]:
    """Create a migrated database under base_dir and run a private FreeRADIUS reading it."""
    db_path = base_dir / "hotspotd.sqlite3"
    asyncio.run(create_database(db_path))
    with private_freeradius(base_dir, db_path, **kwargs) as server:
        yield server


@contextlib.contextmanager
def private_freeradius(base_dir: Path, db_path: Path, **kwargs: Any) -> Iterator[RadiusServer]:
    """Run a private FreeRADIUS for the duration of the with block."""
    server = start_private_freeradius(base_dir, db_path, **kwargs)
    try:
        yield server
    finally:
        server.process.close()


def chap_password(chap_id: int, password: str, challenge: bytes) -> bytes:
    """Return the CHAP-Password value a MikroTik sends: id byte + MD5(id + password + challenge)."""
    ident = bytes([chap_id])
    return ident + hashlib.md5(ident + password.encode() + challenge).digest()


class RadiusTestClient:
    """Blocking pyrad client that sends requests shaped like a MikroTik hotspot's."""

    def __init__(
        self,
        server: str,
        *,
        auth_port: int,
        acct_port: int,
        secret: str,
        bind_address: str | None = None,
        timeout_s: float = 2.0,
        retries: int = 1,
    ) -> None:
        self.bind_address = bind_address or "127.0.0.1"
        self._client = Client(
            server=server,
            authport=auth_port,
            acctport=acct_port,
            secret=secret.encode(),
            dict=load_dictionary(),
            retries=retries,
            timeout=timeout_s,
        )
        if bind_address is not None:
            self._client.bind((bind_address, 0))

    def close(self) -> None:
        """Close the socket."""
        self._client._CloseSocket()

    def __enter__(self) -> RadiusTestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _nas_attributes(self, mac: str, client_ip: str) -> dict[str, Any]:
        return {
            "NAS-IP-Address": self.bind_address,
            "NAS-Identifier": f"sim-{self.bind_address}",
            "NAS-Port": 2148532224,
            "NAS-Port-Type": "Wireless-802.11",
            "NAS-Port-Id": "bridge-hotspot",
            "Service-Type": "Login-User",
            "Calling-Station-Id": mac,
            "Called-Station-Id": "hotspot1",
            "Framed-IP-Address": client_ip,
        }

    def _send(self, request: packet.Packet) -> packet.Packet:
        return self._client.SendPacket(request)

    def pap(
        self,
        username: str,
        password: str,
        *,
        mac: str = "AA:BB:CC:00:00:01",
        client_ip: str = "10.5.50.10",
    ) -> packet.Packet:
        """Send a PAP Access-Request and return the reply."""
        request = self._client.CreateAuthPacket(code=packet.AccessRequest, User_Name=username)
        for key, value in self._nas_attributes(mac, client_ip).items():
            request[key] = value
        request["User-Password"] = request.PwCrypt(password)
        return self._send(request)

    def chap(
        self,
        username: str,
        password: str,
        *,
        mac: str = "AA:BB:CC:00:00:01",
        client_ip: str = "10.5.50.10",
        chap_id: int = 0xF9,
    ) -> packet.Packet:
        """Send a MikroTik-style CHAP Access-Request and return the reply."""
        challenge = os.urandom(16)
        request = self._client.CreateAuthPacket(code=packet.AccessRequest, User_Name=username)
        for key, value in self._nas_attributes(mac, client_ip).items():
            request[key] = value
        request["CHAP-Password"] = chap_password(chap_id, password, challenge)
        request["CHAP-Challenge"] = challenge
        return self._send(request)

    def accounting(
        self,
        status: str,
        username: str,
        session_id: str,
        *,
        session_time_s: int = 0,
        input_octets: int = 0,
        output_octets: int = 0,
        terminate_cause: str | None = None,
        mac: str = "AA:BB:CC:00:00:01",
        client_ip: str = "10.5.50.10",
    ) -> packet.Packet:
        """Send an Accounting-Request (Start, Interim-Update, Stop) and return the response."""
        request = self._client.CreateAcctPacket(User_Name=username)
        for key, value in self._nas_attributes(mac, client_ip).items():
            request[key] = value
        request["Acct-Status-Type"] = status
        request["Acct-Session-Id"] = session_id
        request["Acct-Authentic"] = "RADIUS"
        if status != "Start":
            request["Acct-Session-Time"] = session_time_s
            request["Acct-Input-Octets"] = input_octets & 0xFFFFFFFF
            request["Acct-Input-Gigawords"] = input_octets >> 32
            request["Acct-Output-Octets"] = output_octets & 0xFFFFFFFF
            request["Acct-Output-Gigawords"] = output_octets >> 32
        if terminate_cause is not None:
            request["Acct-Terminate-Cause"] = terminate_cause
        return self._send(request)

    def accounting_on(self) -> packet.Packet:
        """Send Accounting-On, as a router does after a reboot (closes its open sessions)."""
        request = self._client.CreateAcctPacket()
        request["Acct-Status-Type"] = "Accounting-On"
        request["NAS-IP-Address"] = self.bind_address
        request["NAS-Identifier"] = f"sim-{self.bind_address}"
        request["Acct-Session-Id"] = "00000000"
        return self._send(request)


def reply_value(reply: packet.Packet, name: str) -> Any:
    """Return the single value of an attribute in a reply, or None."""
    if name not in reply:
        return None
    values = reply[name]
    return values[0] if len(values) == 1 else values
