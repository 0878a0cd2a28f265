"""Hotspot operations on a MikroTik over its API: system facts, sessions, RADIUS setup, kicks.

Every function takes a connected-on-demand ``RouterClient`` and raises only ``RouterError``.
Items this daemon adds on a router carry the comment ``COMMENT`` so they can be found again.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from routers.client import RouterClient, RouterError, Row

logger = logging.getLogger(__name__)

COMMENT = "hotspotd"
# 6.43 introduced the plain /login; 6.45 is the oldest long-term release still in the field.
MIN_VERSION = (6, 45)
# require-message-auth exists on /radius from RouterOS 7.15 (Blast-RADIUS fixes).
MESSAGE_AUTH_VERSION = (7, 15)

RADIUS = "/radius"
INCOMING = "/radius/incoming"
HOTSPOT = "/ip/hotspot"
PROFILE = "/ip/hotspot/profile"
ACTIVE = "/ip/hotspot/active"
WALLED_GARDEN = "/ip/hotspot/walled-garden"
WALLED_GARDEN_IP = "/ip/hotspot/walled-garden/ip"

ACTIVE_PROPS = (
    ".id",
    "server",
    "user",
    "address",
    "mac-address",
    "login-by",
    "uptime",
    "session-time-left",
    "bytes-in",
    "bytes-out",
    "radius",
)

_VERSION_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")
_DURATION_RE = re.compile(r"(\d+)(ms|w|d|h|m|s)")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0}


def parse_version(text: str) -> tuple[int, int, int]:
    """Return (major, minor, patch) of a RouterOS version ("7.18.2 (stable)")."""
    match = _VERSION_RE.match(text)
    if match is None:
        raise RouterError("unsupported", f"unrecognised RouterOS version {text!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def check_supported(version: str) -> None:
    """Raise RouterError("unsupported") for a RouterOS older than MIN_VERSION."""
    if parse_version(version)[:2] < MIN_VERSION:
        need = ".".join(str(n) for n in MIN_VERSION)
        raise RouterError(
            "unsupported", f"RouterOS {version} is not supported (need {need} or later)"
        )


def parse_duration_s(text: str) -> int:
    """Return whole seconds of a RouterOS duration ("1w2d3h4m5s", "00:05:00"; "" is 0)."""
    text = text.strip()
    if not text or text == "none":
        return 0
    if ":" in text:
        days = 0
        if "d" in text:
            day_text, _, text = text.partition("d")
            days = int(day_text or 0)
        parts = [int(float(p or 0)) for p in text.split(":")]
        while len(parts) < 3:
            parts.append(0)
        return days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION_RE.findall(text))


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


@dataclass(frozen=True)
class Resource:
    """What /system/resource says: health and identity of the hardware."""

    uptime_s: int
    version: str
    board: str
    architecture: str
    cpu_load: int
    cpu_count: int
    free_memory: int
    total_memory: int

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class SystemInfo:
    identity: str
    resource: Resource


async def read_resource(client: RouterClient) -> Resource:
    """Return uptime, version, board, CPU and memory."""
    rows = await client.print("/system/resource")
    if not rows:
        raise RouterError("protocol", f"{client.name}: /system/resource printed nothing")
    row = rows[0]
    return Resource(
        uptime_s=parse_duration_s(row.get("uptime", "")),
        version=row.get("version", ""),
        board=row.get("board-name", ""),
        architecture=row.get("architecture-name", ""),
        cpu_load=_int(row.get("cpu-load")),
        cpu_count=_int(row.get("cpu-count")),
        free_memory=_int(row.get("free-memory")),
        total_memory=_int(row.get("total-memory")),
    )


async def read_identity(client: RouterClient) -> str:
    """Return the router's identity (/system/identity name)."""
    rows = await client.print("/system/identity")
    return rows[0].get("name", "") if rows else ""


async def read_system(client: RouterClient) -> SystemInfo:
    """Return identity and resource."""
    identity = await read_identity(client)
    return SystemInfo(identity, await read_resource(client))


# -- active sessions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """One row of /ip/hotspot/active."""

    item_id: str
    server: str
    user: str
    address: str
    mac: str
    login_by: str
    uptime_s: int
    session_time_left_s: int | None
    bytes_in: int
    bytes_out: int
    radius: bool


def _session(row: Row) -> ActiveSession:
    left = row.get("session-time-left")
    return ActiveSession(
        item_id=row.get("id") or row.get(".id", ""),
        server=row.get("server", ""),
        user=row.get("user", ""),
        address=row.get("address", ""),
        mac=row.get("mac-address", "").upper(),
        login_by=row.get("login-by", ""),
        uptime_s=parse_duration_s(row.get("uptime", "")),
        session_time_left_s=parse_duration_s(left) if left else None,
        bytes_in=_int(row.get("bytes-in")),
        bytes_out=_int(row.get("bytes-out")),
        radius=row.get("radius", "") in ("true", "yes"),
    )


async def active_sessions(client: RouterClient) -> list[ActiveSession]:
    """Return the hotspot's active sessions (one print, only the properties used)."""
    rows = await client.print(ACTIVE, ACTIVE_PROPS)
    return [_session(row) for row in rows]


async def remove_active_session(client: RouterClient, *, user: str, address: str | None) -> int:
    """Log a session out from the router side (accounting cause Admin-Reset); return how many."""
    queries: dict[str, object] = {"user": user}
    if address:
        queries["address"] = address
    rows = await client.print(ACTIVE, (".id",), queries=queries)
    removed = 0
    for row in rows:
        item_id = row.get("id") or row.get(".id")
        if not item_id:
            continue
        try:
            await client.remove(ACTIVE, item_id)
        except RouterError as exc:
            # Gone between print and remove: the session ended anyway.
            if exc.kind != "trap" or "no such item" not in exc.message:
                raise
        removed += 1
    return removed


# -- configuration for this box ---------------------------------------------------------------


@dataclass(frozen=True)
class BoxTarget:
    """How a router must be set up to use this box: RADIUS, Disconnect port, walled garden."""

    radius_address: str
    auth_port: int
    acct_port: int
    secret: str
    incoming_port: int
    interim_interval_s: int
    walled_garden_hosts: tuple[str, ...] = ()
    radius_timeout: str = "3s"
    require_message_auth: bool = True

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"BoxTarget(radius={self.radius_address}:{self.auth_port})"


@dataclass
class Journal:
    """What configure_router changed, so rollback can undo it (newest last)."""

    # (kind "added" | "changed", menu path, item id, old values of a change)
    steps: list[tuple[str, str, str | None, dict[str, str]]] = field(default_factory=list)

    def note_added(self, path: str, item_id: str) -> None:
        self.steps.append(("added", path, item_id, {}))

    def note_changed(self, path: str, item_id: str | None, old: dict[str, str]) -> None:
        self.steps.append(("changed", path, item_id, old))

    @property
    def empty(self) -> bool:
        """Return True when nothing was changed."""
        return not self.steps


def _item_id(row: Row) -> str:
    return row.get("id") or row.get(".id", "")


def _duration(seconds: int) -> str:
    return f"{seconds}s"


async def _set_recording(
    client: RouterClient,
    journal: Journal,
    path: str,
    current: Row,
    wanted: dict[str, str],
    *,
    item_id: str | None,
) -> None:
    """Set the properties that differ, noting the old values first."""
    changes = {k: v for k, v in wanted.items() if current.get(k) != _printed(v)}
    if not changes:
        return
    old = {k: current.get(k, "") for k in changes}
    journal.note_changed(path, item_id, old)
    await client.set(path, item_id, changes)


def _printed(value: str) -> str:
    # RouterOS prints booleans as true/false whatever was written.
    return {"yes": "true", "no": "false"}.get(value, value)


def _radius_props(target: BoxTarget, version: tuple[int, int, int]) -> dict[str, str]:
    props = {
        "service": "hotspot",
        "address": target.radius_address,
        "secret": target.secret,
        "authentication-port": str(target.auth_port),
        "accounting-port": str(target.acct_port),
        "timeout": target.radius_timeout,
        "comment": COMMENT,
        "disabled": "no",
    }
    if version[:2] >= MESSAGE_AUTH_VERSION:
        props["require-message-auth"] = "yes" if target.require_message_auth else "no"
    return props


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def hotspot_profiles(client: RouterClient) -> list[Row]:
    """Return the hotspot profiles in use by hotspot servers (all profiles if none is)."""
    servers = await client.print(HOTSPOT, ("name", "profile"))
    used = {row.get("profile", "default") for row in servers}
    profiles = await client.print(PROFILE)
    chosen = [row for row in profiles if row.get("name") in used]
    return chosen or [row for row in profiles if row.get("name") == "default"]


async def configure_router(
    client: RouterClient, target: BoxTarget, version: str, journal: Journal
) -> None:
    """Point the router's hotspot at this box; every change is noted in journal first."""
    parsed = parse_version(version)
    # 1. RADIUS client for the hotspot (our entry is found again by comment and address).
    existing = [
        row
        for row in await client.print(RADIUS)
        if row.get("comment") == COMMENT and row.get("address") == target.radius_address
    ]
    props = _radius_props(target, parsed)
    if existing:
        row = existing[0]
        await _set_recording(client, journal, RADIUS, row, props, item_id=_item_id(row))
    else:
        new_id = await client.add(RADIUS, props)
        journal.note_added(RADIUS, new_id)
    # 2. Disconnect/CoA from this box, on an explicit port (the documented default is 1700).
    incoming = (await client.print(INCOMING))[0]
    await _set_recording(
        client,
        journal,
        INCOMING,
        incoming,
        {"accept": "yes", "port": str(target.incoming_port)},
        item_id=None,
    )
    # 3. Hotspot profiles: authenticate and account through RADIUS with interim updates.
    for profile in await hotspot_profiles(client):
        await _set_recording(
            client,
            journal,
            PROFILE,
            profile,
            {
                "use-radius": "yes",
                "radius-accounting": "yes",
                "radius-interim-update": _duration(target.interim_interval_s),
            },
            item_id=_item_id(profile),
        )
    # 4. Walled garden: the portal (and payment hosts) reachable before login.
    http_rows = await client.print(WALLED_GARDEN, ("dst-host",))
    have_http = {row.get("dst-host", "") for row in http_rows}
    ip_rows = await client.print(WALLED_GARDEN_IP, ("dst-host", "dst-address"))
    have_ip = {row.get("dst-host", "") for row in ip_rows} | {
        row.get("dst-address", "") for row in ip_rows
    }
    for host in target.walled_garden_hosts:
        if host not in have_http:
            new_id = await client.add(
                WALLED_GARDEN, {"dst-host": host, "action": "allow", "comment": COMMENT}
            )
            journal.note_added(WALLED_GARDEN, new_id)
        if host not in have_ip:
            key = "dst-address" if _is_ip(host) else "dst-host"
            new_id = await client.add(
                WALLED_GARDEN_IP, {key: host, "action": "accept", "comment": COMMENT}
            )
            journal.note_added(WALLED_GARDEN_IP, new_id)


async def rollback(client: RouterClient, journal: Journal) -> list[str]:
    """Undo the journal (best effort); return the steps that failed.

    Added items go first (a dangling RADIUS entry with our secret matters most), then the
    changed settings are put back, each group newest first. Steps leave the journal once
    tried, so after a timeout the journal holds the step in flight and those never tried.
    """
    order = [step for step in reversed(journal.steps) if step[0] == "added"] + [
        step for step in reversed(journal.steps) if step[0] == "changed"
    ]
    failed: list[str] = []
    for step in order:
        kind, path, item_id, old = step
        try:
            if kind == "added":
                assert item_id is not None
                await client.remove(path, item_id)
            else:
                await client.set(path, item_id, old)
        except RouterError as exc:
            logger.warning("%s: could not undo %s on %s: %s", client.name, kind, path, exc)
            failed.append(f"{kind} {path} {item_id or ''}".strip())
        journal.steps.remove(step)
    return failed


@dataclass(frozen=True)
class BoxConfig:
    """The router's settings for this box, as read back after configuring."""

    radius: list[dict[str, str]]
    incoming: dict[str, str]
    profiles: list[dict[str, str]]
    walled_garden: list[str]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no secrets)."""
        return asdict(self)


async def read_box_config(client: RouterClient, radius_address: str) -> BoxConfig:
    """Read back what configure_router set (secrets left out)."""
    radius = [
        {
            k: row.get(k, "")
            for k in ("service", "address", "authentication-port", "accounting-port", "disabled")
        }
        for row in await client.print(RADIUS)
        if row.get("comment") == COMMENT and row.get("address") == radius_address
    ]
    incoming_row = (await client.print(INCOMING))[0]
    incoming = {"accept": incoming_row.get("accept", ""), "port": incoming_row.get("port", "")}
    profiles = [
        {
            k: row.get(k, "")
            for k in ("name", "use-radius", "radius-accounting", "radius-interim-update")
        }
        for row in await hotspot_profiles(client)
    ]
    walled = sorted(
        {row.get("dst-host", "") for row in await client.print(WALLED_GARDEN, ("dst-host",))} - {""}
    )
    return BoxConfig(radius, incoming, profiles, walled)


def verify_box_config(config: BoxConfig, target: BoxTarget) -> list[str]:
    """Return what the read-back settings lack (empty when the router is set up as asked)."""
    problems = []
    if not any(
        r["authentication-port"] == str(target.auth_port)
        and r["accounting-port"] == str(target.acct_port)
        and "hotspot" in r["service"].split(",")
        and r["disabled"] in ("false", "no")
        for r in config.radius
    ):
        problems.append("RADIUS client for the hotspot not found")
    if _printed(config.incoming["accept"]) != "true":
        problems.append("/radius/incoming accept is not yes")
    if config.incoming["port"] != str(target.incoming_port):
        problems.append(
            f"/radius/incoming port is {config.incoming['port']}, not {target.incoming_port}"
        )
    for profile in config.profiles:
        if _printed(profile["use-radius"]) != "true":
            problems.append(f"hotspot profile {profile['name']} does not use RADIUS")
    missing = [h for h in target.walled_garden_hosts if h not in config.walled_garden]
    if missing:
        problems.append(f"walled garden lacks {', '.join(missing)}")
    return problems


def _hosts(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def walled_garden_hosts(portal_url_host: str | None, extra: Sequence[str]) -> tuple[str, ...]:
    """Return the hosts to allow before login: the portal's, then the extra ones, deduplicated."""
    return _hosts([portal_url_host or "", *extra])
