"""SQL for routers and the hotspot sessions they report.

Functions the portal calls take the acting admin and enforce its tenant; the ones named
``*_for_worker`` serve the worker's all-routers sync and kick jobs, which act for every tenant.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any, Literal

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.admins import Actor
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s

Status = Literal["unknown", "online", "offline"]

_COLUMNS = (
    "r.id, r.tenant_id, r.name, r.host, r.api_port, r.use_tls, r.username, r.nas_ip, r.identity,"
    " r.version, r.board, r.status, r.last_seen_at, r.last_error, r.resource_json, r.created_at"
)


class Router(BaseModel):
    id: int
    tenant_id: int
    name: str
    host: str
    api_port: int
    use_tls: bool
    username: str
    nas_ip: str
    identity: str | None
    version: str | None
    board: str | None
    status: Status
    last_seen_at: int | None
    last_error: str | None
    resource: dict[str, Any] | None
    created_at: int
    session_count: int = 0


class RouterAccess(BaseModel):
    """A router with its encrypted API password: for the worker's connections only."""

    router: Router
    password_enc: str

    def __repr__(self) -> str:  # keep the ciphertext out of logs
        return f"RouterAccess(router_id={self.router.id}, host={self.router.host!r})"

    __str__ = __repr__


class RouterSession(BaseModel):
    router_id: int
    item_id: str
    username: str
    address: str
    mac: str
    server: str
    login_by: str
    uptime_s: int
    session_time_left_s: int | None
    bytes_in: int
    bytes_out: int
    radius: bool
    seen_at: int


# The order of a session row for replace_sessions (matches the INSERT below).
SessionRow = tuple[str, str, str, str, str, str, int, int | None, int, int, bool]


def _router(row: sqlite3.Row) -> Router:
    data = dict(row)
    raw = data.pop("resource_json", None)
    data.pop("password_enc", None)
    data["resource"] = json.loads(raw) if raw else None
    return Router.model_validate(data)


def _scope(actor: Actor) -> int | None:
    # None means every tenant; only a system admin gets it.
    return None if actor.is_system else actor.tenant_id if actor.tenant_id is not None else -1


async def find_conflict(db: Database, tenant_id: int, *, name: str, nas_ip: str) -> str | None:
    """Return why a router with this name / address cannot be added, or None."""
    row = await db.fetchone(
        "SELECT name, nas_ip FROM routers WHERE nas_ip = ? OR (tenant_id = ? AND name = ?)",
        (nas_ip, tenant_id, name),
    )
    if row is None:
        return None
    if row["nas_ip"] == nas_ip:
        return f"a router at {nas_ip} is already registered"
    return f"a router named '{name}' already exists"


async def insert_router(
    conn: aiosqlite.Connection,
    tenant_id: int,
    *,
    name: str,
    host: str,
    api_port: int,
    use_tls: bool,
    username: str,
    password_enc: str,
    nas_ip: str,
    identity: str,
    version: str,
    board: str,
    resource: dict[str, Any],
) -> Router:
    """Insert a registered router (online, seen now) inside the caller's transaction."""
    now = now_s()
    try:
        cursor = await conn.execute(
            "INSERT INTO routers (tenant_id, name, host, api_port, use_tls, username, password_enc,"
            " nas_ip, identity, version, board, status, last_seen_at, resource_json, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'online', ?, ?, ?) RETURNING id",
            (
                tenant_id,
                name,
                host,
                api_port,
                int(use_tls),
                username,
                password_enc,
                nas_ip,
                identity,
                version,
                board,
                now,
                json.dumps(resource, separators=(",", ":")),
                now,
            ),
        )
    except sqlite3.IntegrityError as exc:
        if "FOREIGN KEY" in str(exc):
            raise NotFound(f"tenant {tenant_id}") from exc
        if "nas_ip" in str(exc):
            raise Conflict(f"a router at {nas_ip} is already registered") from exc
        raise Conflict(f"a router named '{name}' already exists") from exc
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return await _get_in(conn, int(row[0]))


async def _get_in(conn: aiosqlite.Connection, router_id: int) -> Router:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM routers r WHERE r.id = ?", (router_id,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise NotFound(f"router {router_id}")
    return _router(row)


_WITH_COUNT = (
    f"SELECT {_COLUMNS}, (SELECT COUNT(*) FROM router_sessions s WHERE s.router_id = r.id)"
    " AS session_count FROM routers r"
)


async def get_router(db: Database, actor: Actor, router_id: int) -> Router:
    """Return a router the actor may see, or raise NotFound."""
    scope = _scope(actor)
    row = await db.fetchone(
        _WITH_COUNT + " WHERE r.id = ? AND (? IS NULL OR r.tenant_id = ?)",
        (router_id, scope, scope),
    )
    if row is None:
        raise NotFound(f"router {router_id}")
    return _router(row)


async def list_routers(db: Database, actor: Actor) -> list[Router]:
    """Return the routers the actor may see, with their session counts, by name."""
    scope = _scope(actor)
    rows = await db.fetchall(
        _WITH_COUNT + " WHERE (? IS NULL OR r.tenant_id = ?) ORDER BY r.tenant_id, r.name",
        (scope, scope),
    )
    return [_router(row) for row in rows]


async def delete_router(conn: aiosqlite.Connection, actor: Actor, router_id: int) -> Router:
    """Delete a router the actor may manage (its sessions go with it); NotFound otherwise.

    The caller removes its ``nas`` row in the same transaction (radius.nas.remove_nas).
    """
    scope = _scope(actor)
    async with conn.execute(
        "DELETE FROM routers AS r WHERE r.id = ? AND (? IS NULL OR r.tenant_id = ?)"
        f" RETURNING {_COLUMNS.replace('r.', '')}",
        (router_id, scope, scope),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise NotFound(f"router {router_id}")
    return _router(row)


async def list_sessions(
    db: Database, actor: Actor, *, router_id: int | None = None, limit: int = 500
) -> list[RouterSession]:
    """Return the live sessions of the actor's routers (one router's if given)."""
    scope = _scope(actor)
    rows = await db.fetchall(
        "SELECT s.* FROM router_sessions s JOIN routers r ON r.id = s.router_id"
        " WHERE (? IS NULL OR r.tenant_id = ?) AND (? IS NULL OR s.router_id = ?)"
        " ORDER BY s.router_id, s.username LIMIT ?",
        (scope, scope, router_id, router_id, limit),
    )
    return [RouterSession.model_validate(dict(row)) for row in rows]


# -- worker side ------------------------------------------------------------------------------


async def list_routers_for_worker(db: Database) -> list[RouterAccess]:
    """Return every router with its encrypted password (the sync job acts for all tenants)."""
    rows = await db.fetchall(f"SELECT {_COLUMNS}, r.password_enc FROM routers r ORDER BY r.id")
    return [RouterAccess(router=_router(row), password_enc=row["password_enc"]) for row in rows]


async def get_router_for_worker(db: Database, router_id: int) -> RouterAccess:
    """Return one router with its encrypted password, or raise NotFound."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, r.password_enc FROM routers r WHERE r.id = ?", (router_id,)
    )
    if row is None:
        raise NotFound(f"router {router_id}")
    return RouterAccess(router=_router(row), password_enc=row["password_enc"])


async def record_online(
    conn: aiosqlite.Connection,
    router_id: int,
    *,
    identity: str,
    version: str,
    board: str,
    resource: dict[str, Any],
    seen_at: int,
) -> Status | None:
    """Store a successful sync; return the previous status (None if the router is gone)."""
    async with conn.execute("SELECT status FROM routers WHERE id = ?", (router_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    await conn.execute(
        "UPDATE routers SET status = 'online', identity = ?, version = ?, board = ?,"
        " resource_json = ?, last_seen_at = ?, last_error = NULL WHERE id = ?",
        (
            identity,
            version,
            board,
            json.dumps(resource, separators=(",", ":")),
            seen_at,
            router_id,
        ),
    )
    status: Status = row[0]
    return status


async def record_offline(conn: aiosqlite.Connection, router_id: int, error: str) -> Status | None:
    """Mark a router offline with the reason; return the previous status (None if gone)."""
    async with conn.execute("SELECT status FROM routers WHERE id = ?", (router_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    await conn.execute(
        "UPDATE routers SET status = 'offline', last_error = ? WHERE id = ?",
        (error[:500], router_id),
    )
    status: Status = row[0]
    return status


async def replace_sessions(
    conn: aiosqlite.Connection, router_id: int, rows: Iterable[SessionRow], seen_at: int
) -> None:
    """Replace a router's live sessions with what it just reported (one executemany)."""
    await conn.execute("DELETE FROM router_sessions WHERE router_id = ?", (router_id,))
    await conn.executemany(
        "INSERT OR REPLACE INTO router_sessions (router_id, item_id, username, address, mac,"
        " server, login_by, uptime_s, session_time_left_s, bytes_in, bytes_out, radius, seen_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((router_id, *row, seen_at) for row in rows),
    )


async def clear_sessions(conn: aiosqlite.Connection, router_id: int) -> None:
    """Forget a router's live sessions (it is offline: they are unknown)."""
    await conn.execute("DELETE FROM router_sessions WHERE router_id = ?", (router_id,))


async def delete_session(
    conn: aiosqlite.Connection, router_id: int, username: str, address: str | None
) -> int:
    """Forget a session that was kicked; return how many rows went."""
    cursor = await conn.execute(
        "DELETE FROM router_sessions WHERE router_id = ? AND username = ?"
        " AND (? IS NULL OR address = ?)",
        (router_id, username, address, address),
    )
    count = cursor.rowcount
    await cursor.close()
    return count
