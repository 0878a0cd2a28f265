"""Hotspot hosts, CHAP challenges and active sessions of a simulated router, with accounting."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routers.simulator.model import (
    SimulatedRouter,
    TrapError,
    format_duration,
    parse_duration,
)
from routers.simulator.nas_client import AuthOutcome, NasClient, RadiusUnavailable, radius_servers

logger = logging.getLogger(__name__)

ACTIVE = "/ip/hotspot/active"
HOST = "/ip/hotspot/host"

# MikroTik's errors.txt: error code (`error-orig`) -> text shown as `error` on the login page.
ERROR_TEXTS = {
    "chap-missing": "web browser did not send challenge response (try refreshing login page)",
    "invalid-username": "invalid username or password",
    "radius-timeout": "RADIUS server is not responding",
    "not-logged-in": "you are not logged in",
    "user-session-limit": "no more sessions are allowed for user",
    "config-error": "configuration error",
    "internal-error": "internal error",
}

_NAS_PORT_TYPES = {
    "wireless-802.11": "Wireless-802.11",
    "ethernet": "Ethernet",
    "async": "Async",
    "virtual": "Virtual",
    "cable": "Cable",
    "xdsl": "xDSL",
}
_HEX32 = re.compile(r"[0-9a-f]{32}")


class LoginError(Exception):
    """A refused login: `code` as in MikroTik's errors.txt, `text` for the login page."""

    def __init__(self, code: str, text: str | None = None) -> None:
        self.code = code
        self.text = text or ERROR_TEXTS.get(code, code)
        super().__init__(self.text)


@dataclass(frozen=True)
class Challenge:
    """A CHAP challenge handed to one client by its login page."""

    chap_id: int
    challenge: bytes

    @property
    def chap_id_text(self) -> str:
        """Return the id as the login page's `$(chap-id)` text (octal escape)."""
        return octal_escape(bytes([self.chap_id]))

    @property
    def challenge_text(self) -> str:
        """Return the challenge as `$(chap-challenge)` text (sixteen octal escapes)."""
        return octal_escape(self.challenge)


@dataclass(frozen=True)
class Credentials:
    """What a login attempt carries: PAP password or CHAP (id, md5 response, challenge)."""

    username: str
    login_by: str
    password: str | None = None
    chap: tuple[int, bytes, bytes] | None = None


@dataclass
class Session:
    """One logged-in host: the state behind its /ip/hotspot/active row."""

    row_id: str
    acct_session_id: str
    user: str
    mac: str
    ip: str
    server: str
    interface: str
    login_by: str
    radius: bool
    nas_port: int
    started: float
    started_wall: float
    last_activity: float
    reply: dict[str, list[Any]] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0
    session_deadline: float | None = None
    idle_timeout_s: float | None = None
    interim_s: float | None = None
    next_interim: float | None = None
    rate_limit: str | None = None
    recv_limit: int | None = None
    xmit_limit: int | None = None
    total_limit: int | None = None
    group: str | None = None
    end_cause: str | None = None
    accounting: bool = True
    # Accounting sent for this session, in order: "Start", "Interim-Update", "Stop".
    accounting_sent: list[str] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Return whether the session has not been asked to end."""
        return self.end_cause is None

    def uptime_s(self, now: float) -> float:
        """Return seconds since login."""
        return now - self.started

    async def wait_closed(self) -> None:
        """Wait until the session has ended and its Stop was sent (or given up)."""
        if self.task is not None:
            await asyncio.shield(self.task)


def octal_escape(data: bytes) -> str:
    r"""Return bytes as MikroTik's login-page text: one `\ooo` octal escape per byte."""
    return "".join(f"\\{byte:03o}" for byte in data)


def chap_response(chap_id: int, password: str, challenge: bytes) -> bytes:
    """Return MD5(chap-id + password + challenge): the CHAP response a login form carries."""
    return hashlib.md5(bytes([chap_id]) + password.encode() + challenge).digest()


def normalise_mac(mac: str) -> str:
    """Return a MAC as XX:XX:XX:XX:XX:XX."""
    digits = re.sub(r"[^0-9A-Fa-f]", "", mac).upper()
    if len(digits) != 12:
        raise ValueError(f"invalid MAC address {mac!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def format_mac(mac: str, fmt: str) -> str:
    """Format a MAC by a hotspot profile's radius-mac-format ("XX:XX:XX:XX:XX:XX", ...)."""
    digits = iter(mac.replace(":", ""))
    out = []
    for char in fmt:
        if char in "Xx":
            digit = next(digits, "")
            out.append(digit.upper() if char == "X" else digit.lower())
        else:
            out.append(char)
    return "".join(out)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "yes"}


def _duration_or_none(text: str | None) -> float | None:
    try:
        seconds = parse_duration(text or "")
    except ValueError:
        return None
    return seconds or None


def _int_or_none(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class SessionManager:
    """The hotspot of one simulated router: hosts, login, sessions, timers and accounting."""

    def __init__(
        self,
        router: SimulatedRouter,
        nas: NasClient,
        *,
        challenge_lifetime_s: float = 600.0,
    ) -> None:
        self.router = router
        self.nas = nas
        self.challenge_lifetime_s = challenge_lifetime_s
        self._sessions: dict[str, Session] = {}  # by MAC
        self._host_ids: dict[str, str] = {}  # MAC -> /ip/hotspot/host row id
        self._host_macs: dict[str, str] = {}  # IP -> MAC
        # Ended sessions, oldest first, so tests and the demo can inspect what happened.
        self.ended: list[Session] = []
        self._challenges: dict[str, tuple[Challenge, float]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._removing: set[str] = set()
        self._counter = secrets.randbelow(0x1000) * 0x100
        self._session_prefix = 0x80000000 | (secrets.randbelow(0x800) << 20)
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Hook into the router's menus and commands and send Accounting-On."""
        if self._started:
            return
        self._started = True
        self.router.menu(ACTIVE).on_remove.append(self._on_active_removed)
        self.router.menu(ACTIVE).on_print.append(lambda _menu: self.refresh())
        self.router.menu(HOST).on_remove.append(self._on_host_removed)
        self.router.menu(HOST).on_print.append(lambda _menu: self.refresh())
        self.router.register_command(f"{ACTIVE}/login", self._api_login)
        if radius_servers(self.router):
            await self.send_accounting_on()

    async def close(self) -> None:
        """Stop all timers without sending Stops (like a router losing power)."""
        for menu_path, hook in ((ACTIVE, self._on_active_removed), (HOST, self._on_host_removed)):
            with contextlib.suppress(ValueError):
                self.router.menu(menu_path).on_remove.remove(hook)
        tasks = [s.task for s in self._sessions.values() if s.task is not None]
        tasks.extend(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await self.nas.close()

    async def reboot(self) -> None:
        """Simulate a reboot: sessions and hosts vanish without Stop, then Accounting-On is sent."""
        tasks = [s.task for s in self._sessions.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._sessions.clear()
        self._challenges.clear()
        self._host_ids.clear()
        self._host_macs.clear()
        self.router.reboot()
        if radius_servers(self.router):
            await self.send_accounting_on()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- router configuration ---------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """Return the router identity (NAS-Identifier)."""
        return self.router.identity

    def server(self) -> dict[str, str]:
        """Return the hotspot server row in use (first enabled one)."""
        for item in self.router.menu("/ip/hotspot").items():
            if not _is_true(item.get("disabled")):
                return item
        return {"name": "hotspot1", "interface": "bridge", "profile": "default"}

    def profile(self) -> dict[str, str]:
        """Return the hotspot server profile in use."""
        menu = self.router.menu("/ip/hotspot/profile")
        found = menu.find(name=self.server().get("profile", "default"))
        if found:
            return found[0]
        defaults = menu.find(name="default")
        return defaults[0] if defaults else dict(menu.spec.defaults)

    # -- hosts -----------------------------------------------------------------------------------
    def add_host(self, mac: str, ip: str) -> str:
        """Make a client appear in /ip/hotspot/host (it has an address, not logged in yet)."""
        mac = normalise_mac(mac)
        menu = self.router.menu(HOST)
        existing = self.host(mac)
        if existing is not None:
            if existing.get("address") != ip:
                self._host_macs.pop(existing.get("address", ""), None)
                menu.set(existing[".id"], {"address": ip, "to-address": ip})
                self._host_macs[ip] = mac
            return existing[".id"]
        server = self.server()
        row_id = menu.add(
            {
                "mac-address": mac,
                "address": ip,
                "to-address": ip,
                "server": server.get("name", "hotspot1"),
                "found-by": f"DHCP {ip}",
                "authorized": "false",
                "bypassed": "false",
            }
        )
        self._host_ids[mac] = row_id
        self._host_macs[ip] = mac
        return row_id

    def host(self, mac: str | None = None, ip: str | None = None) -> dict[str, str] | None:
        """Return the /ip/hotspot/host row for a MAC and/or IP, or None."""
        # Indexed by MAC and IP: a linear find() per request is too slow with thousands of hosts.
        if mac:
            mac = normalise_mac(mac)
        elif ip:
            mac = self._host_macs.get(ip)
        if not mac:
            return None
        row_id = self._host_ids.get(mac)
        if row_id is None:
            return None
        try:
            row = self.router.menu(HOST).get(row_id)
        except (TrapError, KeyError):  # gone without hooks (reboot)
            self._forget_host(mac, None)
            return None
        if ip and row.get("address") != ip:
            return None
        return row

    def _forget_host(self, mac: str, ip: str | None) -> None:
        self._host_ids.pop(mac, None)
        for address, owner in list(self._host_macs.items()):
            if owner == mac and (ip is None or address == ip):
                del self._host_macs[address]

    def remove_host(self, mac: str, cause: str = "Lost-Carrier") -> None:
        """Make a client leave: its session ends with `cause` and its host row goes."""
        mac = normalise_mac(mac)
        session = self._sessions.get(mac)
        if session is not None:
            self.request_end(session, cause)
        host = self.host(mac)
        if host is not None:
            self.router.menu(HOST).remove(host[".id"])

    def _set_host_authorized(self, mac: str, authorized: bool) -> None:
        row_id = self._host_ids.get(mac)
        if row_id is not None:
            with contextlib.suppress(TrapError, KeyError):
                self.router.menu(HOST).set(
                    row_id, {"authorized": "true" if authorized else "false"}
                )

    def _on_host_removed(self, item: dict[str, str]) -> None:
        mac = item.get("mac-address", "")
        if self._host_ids.get(mac) == item.get(".id"):
            self._forget_host(mac, None)
        session = self._sessions.get(mac)
        if session is not None and session.active:
            self.request_end(session, "Admin-Reset")

    # -- challenges ----------------------------------------------------------------------------
    def issue_challenge(self, mac: str) -> Challenge:
        """Give a client a fresh CHAP id and challenge; only the latest one is valid."""
        mac = normalise_mac(mac)
        challenge = Challenge(chap_id=secrets.randbelow(256), challenge=secrets.token_bytes(16))
        self._challenges[mac] = (challenge, time.monotonic() + self.challenge_lifetime_s)
        return challenge

    def _take_challenge(self, mac: str) -> Challenge | None:
        entry = self._challenges.pop(mac, None)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def http_credentials(self, mac: str, username: str, password: str) -> Credentials:
        """Turn a login form into credentials, consuming the client's challenge."""
        mac = normalise_mac(mac)
        login_by = {m.strip() for m in self.profile().get("login-by", "").split(",")}
        challenge = self._take_challenge(mac)
        if "http-chap" in login_by and challenge is not None and _HEX32.fullmatch(password):
            response = bytes.fromhex(password)
            return Credentials(
                username, "http-chap", chap=(challenge.chap_id, response, challenge.challenge)
            )
        if "http-pap" in login_by:
            return Credentials(username, "http-pap", password=password)
        if "http-chap" in login_by:
            raise LoginError("chap-missing")
        raise LoginError("config-error", "no http login method is enabled")

    # -- sessions --------------------------------------------------------------------------------
    @property
    def sessions(self) -> list[Session]:
        """Return the active sessions."""
        return list(self._sessions.values())

    def session(self, mac: str | None = None, ip: str | None = None) -> Session | None:
        """Return the active session of a MAC or IP address, or None."""
        if mac:
            return self._sessions.get(normalise_mac(mac))
        for session in self._sessions.values():
            if session.ip == ip:
                return session
        return None

    def find_sessions(
        self,
        *,
        user: str | None = None,
        ip: str | None = None,
        acct_session_id: str | None = None,
        mac: str | None = None,
    ) -> list[Session]:
        """Return the active sessions matching every given attribute."""
        mac = normalise_mac(mac) if mac else None
        return [
            s
            for s in self._sessions.values()
            if (user is None or s.user == user)
            and (ip is None or s.ip == ip)
            and (acct_session_id is None or s.acct_session_id == acct_session_id)
            and (mac is None or s.mac == mac)
        ]

    async def login(self, mac: str, credentials: Credentials) -> Session:
        """Authenticate a host (RADIUS or local users) and open its session, or raise LoginError."""
        mac = normalise_mac(mac)
        host = self.host(mac)
        if host is None:
            raise LoginError("internal-error", "unknown host")
        existing = self._sessions.get(mac)
        if existing is not None:
            return existing
        profile = self.profile()
        server = self.server()
        nas_port = self._next_counter()
        acct_session_id = f"{self._session_prefix | nas_port:08x}"
        use_radius = _is_true(profile.get("use-radius"))
        if use_radius:
            outcome = await self._radius_auth(
                mac, host["address"], credentials, server, profile, nas_port, acct_session_id
            )
            reply = outcome.attributes
        else:
            reply = self._local_auth(credentials)
        if mac in self._sessions:  # a concurrent login of the same host won
            return self._sessions[mac]
        now = asyncio.get_running_loop().time()
        session = Session(
            row_id="",
            acct_session_id=acct_session_id,
            user=credentials.username,
            mac=mac,
            ip=host["address"],
            server=server.get("name", "hotspot1"),
            interface=server.get("interface", "bridge"),
            login_by=credentials.login_by,
            radius=use_radius,
            nas_port=nas_port,
            started=now,
            started_wall=time.time(),
            last_activity=now,
            reply=reply,
            accounting=use_radius and _is_true(profile.get("radius-accounting", "true")),
        )
        self._apply_limits(session, reply, now, profile=profile)
        session.row_id = self.router.menu(ACTIVE).add(self._row(session, now))
        self._sessions[mac] = session
        self._set_host_authorized(mac, True)
        session.task = self._spawn(self._supervise(session))
        logger.info(
            "hotspot %s: %s logged in from %s (%s)", self.identity, session.user, mac, session.ip
        )
        return session

    def _next_counter(self) -> int:
        self._counter = (self._counter + 1) & 0xFFFFF
        return self._counter

    async def _radius_auth(
        self,
        mac: str,
        ip: str,
        credentials: Credentials,
        server: Mapping[str, str],
        profile: Mapping[str, str],
        nas_port: int,
        acct_session_id: str,
    ) -> AuthOutcome:
        attributes = {
            "User-Name": credentials.username,
            "NAS-Port-Type": self._nas_port_type(profile),
            "Calling-Station-Id": format_mac(
                mac, profile.get("radius-mac-format") or "XX:XX:XX:XX:XX:XX"
            ),
            "Called-Station-Id": server.get("name", "hotspot1"),
            "NAS-Port-Id": server.get("interface", "bridge"),
            "Acct-Session-Id": acct_session_id,
            "Framed-IP-Address": ip,
            "Mikrotik-Host-IP": ip,
            "Service-Type": "Login-User",
            "NAS-Port": nas_port,
            "NAS-Identifier": self.identity,
            "NAS-IP-Address": self.nas.nas_ip,
        }
        try:
            outcome = await self.nas.authenticate(
                attributes, password=credentials.password, chap=credentials.chap
            )
        except RadiusUnavailable:
            raise LoginError("radius-timeout") from None
        if not outcome.accepted:
            message = outcome.reply_message
            if message:
                raise LoginError("radius-reply", message)
            raise LoginError("invalid-username")
        return outcome

    @staticmethod
    def _nas_port_type(profile: Mapping[str, str]) -> str | int:
        value = profile.get("nas-port-type") or "wireless-802.11"
        if value.isdigit():
            return int(value)
        return _NAS_PORT_TYPES.get(value.lower(), "Wireless-802.11")

    def _local_auth(self, credentials: Credentials) -> dict[str, list[Any]]:
        users = self.router.menu("/ip/hotspot/user").find(name=credentials.username)
        if not users or _is_true(users[0].get("disabled")):
            raise LoginError("invalid-username")
        user = users[0]
        stored = user.get("password", "")
        if credentials.chap is not None:
            chap_id, response, challenge = credentials.chap
            valid = hmac.compare_digest(response, chap_response(chap_id, stored, challenge))
        else:
            valid = hmac.compare_digest((credentials.password or "").encode(), stored.encode())
        if not valid:
            raise LoginError("invalid-username")
        # Local users get the same limits a RADIUS reply would carry.
        reply: dict[str, list[Any]] = {}
        uptime = _duration_or_none(user.get("limit-uptime"))
        if uptime:
            reply["Session-Timeout"] = [int(uptime)]
        total = _int_or_none(user.get("limit-bytes-total"))
        if total:
            reply["Mikrotik-Total-Limit"] = [total & 0xFFFFFFFF]
            reply["Mikrotik-Total-Limit-Gigawords"] = [total >> 32]
        return reply

    def _apply_limits(
        self,
        session: Session,
        reply: Mapping[str, list[Any]],
        now: float,
        *,
        profile: Mapping[str, str] | None = None,
        from_now: bool = False,
    ) -> None:
        """Apply reply attributes (Access-Accept or CoA) to a session's limits."""

        def first(name: str) -> Any | None:
            values = reply.get(name)
            return values[0] if values else None

        timeout = first("Session-Timeout")
        if timeout is not None:
            seconds = _int_or_none(timeout)
            base = now if from_now else session.started
            session.session_deadline = base + seconds if seconds else None
        idle = first("Idle-Timeout")
        if idle is not None:
            session.idle_timeout_s = _int_or_none(idle)
        rate = first("Mikrotik-Rate-Limit")
        if rate is not None:
            session.rate_limit = _text(rate)
        group = first("Mikrotik-Group")
        if group is not None:
            session.group = _text(group)
        for attr, target in (
            ("Mikrotik-Recv-Limit", "recv_limit"),
            ("Mikrotik-Xmit-Limit", "xmit_limit"),
            ("Mikrotik-Total-Limit", "total_limit"),
        ):
            low = first(attr)
            high = first(f"{attr}-Gigawords")
            if low is not None or high is not None:
                limit = (int(high or 0) << 32) | int(low or 0)
                setattr(session, target, limit or None)
        interim = None
        mode = (profile or self.profile()).get("radius-interim-update", "received")
        if mode == "received":
            value = first("Acct-Interim-Interval")
            if value is not None:
                interim = float(_int_or_none(value) or 0) or None
                self._set_interim(session, interim, now)
        elif profile is not None:
            self._set_interim(session, _duration_or_none(mode), now)

    @staticmethod
    def _set_interim(session: Session, interval_s: float | None, now: float) -> None:
        session.interim_s = interval_s
        session.next_interim = now + interval_s if interval_s else None

    def _row(self, session: Session, now: float) -> dict[str, str]:
        row = {
            "server": session.server,
            "user": session.user,
            "domain": "",
            "address": session.ip,
            "mac-address": session.mac,
            "login-by": session.login_by,
            "uptime": format_duration(session.uptime_s(now)),
            "idle-time": format_duration(now - session.last_activity),
            "bytes-in": str(session.bytes_in),
            "bytes-out": str(session.bytes_out),
            "packets-in": str(session.packets_in),
            "packets-out": str(session.packets_out),
            "radius": "true" if session.radius else "false",
        }
        if session.session_deadline is not None:
            row["session-time-left"] = format_duration(session.session_deadline - now)
        if session.idle_timeout_s:
            row["idle-timeout"] = format_duration(session.idle_timeout_s)
        if session.total_limit:
            row["limit-bytes-total"] = str(session.total_limit)
        return row

    def refresh(self) -> None:
        """Bring the computed columns of the active rows (uptime, counters) up to date."""
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            return
        menu = self.router.menu(ACTIVE)
        for session in self._sessions.values():
            if session.active and session.row_id:
                with contextlib.suppress(TrapError, KeyError):
                    menu.set(session.row_id, self._row(session, now))

    def add_traffic(self, mac: str, up: int, down: int) -> None:
        """Count traffic of a logged-in client: `up` from the client (bytes-in), `down` to it."""
        session = self._sessions.get(normalise_mac(mac))
        if session is None:
            raise LookupError(f"{mac} has no active session")
        session.bytes_in += up
        session.bytes_out += down
        session.packets_in += -(-up // 1500)
        session.packets_out += -(-down // 1500)
        if up or down:
            session.last_activity = asyncio.get_running_loop().time()
        session.wake.set()

    def apply_change(self, session: Session, attributes: Mapping[str, list[Any]]) -> None:
        """Apply a CoA's attributes live (Session-Timeout counts from now)."""
        now = asyncio.get_running_loop().time()
        self._apply_limits(session, attributes, now, from_now=True)
        session.reply.update({k: list(v) for k, v in attributes.items()})
        session.wake.set()

    # -- ending ----------------------------------------------------------------------------------
    def request_end(self, session: Session, cause: str) -> None:
        """End a session now (row removed at once); its Stop follows from the session's task."""
        if not session.active:
            return
        session.end_cause = cause
        if self._sessions.get(session.mac) is session:
            del self._sessions[session.mac]
        self._removing.add(session.row_id)
        try:
            with contextlib.suppress(TrapError, KeyError):
                self.router.menu(ACTIVE).remove(session.row_id)
        finally:
            self._removing.discard(session.row_id)
        self._set_host_authorized(session.mac, False)
        self.ended.append(session)
        session.wake.set()
        logger.info(
            "hotspot %s: session of %s (%s) ended: %s",
            self.identity,
            session.user,
            session.mac,
            cause,
        )

    async def logout(self, session: Session, cause: str = "User-Request") -> None:
        """End a session and wait until its Stop is sent."""
        self.request_end(session, cause)
        await session.wait_closed()

    def _on_active_removed(self, item: dict[str, str]) -> None:
        row_id = item.get(".id", "")
        if row_id in self._removing:
            return
        for session in list(self._sessions.values()):
            if session.row_id == row_id:
                # Removed from outside (API `remove`): RouterOS reports that as admin-reset.
                self.request_end(session, "Admin-Reset")

    # -- the per-session task ---------------------------------------------------------------------
    async def _supervise(self, session: Session) -> None:
        loop = asyncio.get_running_loop()
        if session.accounting:
            await self._account(session, "Start")
        while session.active:
            now = loop.time()
            cause = self._expired(session, now)
            if cause is not None:
                self.request_end(session, cause)
                break
            if session.next_interim is not None and now >= session.next_interim:
                session.next_interim = now + (session.interim_s or 0) if session.interim_s else None
                if session.accounting:
                    await self._account(session, "Interim-Update")
                continue
            deadlines = [
                d
                for d in (
                    session.session_deadline,
                    session.last_activity + session.idle_timeout_s
                    if session.idle_timeout_s
                    else None,
                    session.next_interim,
                )
                if d is not None
            ]
            session.wake.clear()
            timeout = max(min(deadlines) - now, 0.0) if deadlines else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.wake.wait(), timeout)
        if session.accounting:
            await self._account(session, "Stop")

    @staticmethod
    def _expired(session: Session, now: float) -> str | None:
        if session.session_deadline is not None and now >= session.session_deadline:
            return "Session-Timeout"
        if session.idle_timeout_s and now - session.last_activity >= session.idle_timeout_s:
            return "Idle-Timeout"
        if (
            (session.recv_limit and session.bytes_in >= session.recv_limit)
            or (session.xmit_limit and session.bytes_out >= session.xmit_limit)
            or (session.total_limit and session.bytes_in + session.bytes_out >= session.total_limit)
        ):
            return "NAS-Request"
        return None

    async def _account(self, session: Session, status: str) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        attributes: dict[str, Any] = {
            "Acct-Status-Type": status,
            "User-Name": session.user,
            "Acct-Session-Id": session.acct_session_id,
            "NAS-Identifier": self.identity,
            "NAS-IP-Address": self.nas.nas_ip,
            "NAS-Port": session.nas_port,
            "NAS-Port-Type": self._nas_port_type(self.profile()),
            "NAS-Port-Id": session.interface,
            "Calling-Station-Id": format_mac(
                session.mac, self.profile().get("radius-mac-format") or "XX:XX:XX:XX:XX:XX"
            ),
            "Called-Station-Id": session.server,
            "Framed-IP-Address": session.ip,
            "Mikrotik-Host-IP": session.ip,
            "Acct-Authentic": "RADIUS",
            "Acct-Delay-Time": 0,
            "Event-Timestamp": int(time.time()),
        }
        if session.reply.get("Class"):
            attributes["Class"] = session.reply["Class"]
        if status != "Start":
            attributes.update(
                {
                    "Acct-Session-Time": int(session.uptime_s(now)),
                    "Acct-Input-Octets": session.bytes_in & 0xFFFFFFFF,
                    "Acct-Input-Gigawords": session.bytes_in >> 32,
                    "Acct-Output-Octets": session.bytes_out & 0xFFFFFFFF,
                    "Acct-Output-Gigawords": session.bytes_out >> 32,
                    "Acct-Input-Packets": session.packets_in & 0xFFFFFFFF,
                    "Acct-Output-Packets": session.packets_out & 0xFFFFFFFF,
                }
            )
        if status == "Stop":
            attributes["Acct-Terminate-Cause"] = session.end_cause or "User-Request"
        session.accounting_sent.append(status)
        try:
            answered = await self.nas.account(attributes)
        except OSError as exc:
            logger.warning("hotspot %s: accounting %s failed: %s", self.identity, status, exc)
            return
        if not answered:
            logger.warning(
                "hotspot %s: accounting %s for %s got no answer",
                self.identity,
                status,
                session.acct_session_id,
            )

    async def send_accounting_on(self) -> bool:
        """Send Accounting-On (the router (re)started: the server closes its open sessions)."""
        return await self.nas.account(
            {
                "Acct-Status-Type": "Accounting-On",
                "NAS-Identifier": self.identity,
                "NAS-IP-Address": self.nas.nas_ip,
                "Acct-Delay-Time": 0,
                "Event-Timestamp": int(time.time()),
            }
        )

    # -- API command /ip/hotspot/active/login ----------------------------------------------------
    async def _api_login(self, router: SimulatedRouter, args: dict[str, str]) -> None:
        user = args.get("user", "")
        if not user:
            raise TrapError("user must be set", 1)
        mac = args.get("mac-address") or None
        ip = args.get("ip") or None
        if not mac and not ip:
            raise TrapError("ip or mac-address must be set", 1)
        try:
            host = self.host(mac, ip)
        except ValueError:
            raise TrapError("invalid value for argument mac-address", 1) from None
        if host is None:
            raise TrapError("no such host", 1)
        credentials = Credentials(user, "api", password=args.get("password", ""))
        # Unverified on a real router: here the command waits for RADIUS and traps on refusal.
        try:
            await self.login(host["mac-address"], credentials)
        except LoginError as exc:
            raise TrapError(exc.text, 1) from None
