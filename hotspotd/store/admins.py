"""SQL for admin users (system admins, tenant admins and staff), their sessions and sign-ins.

Every function that reads or changes tenant data takes the acting admin and
enforces its tenant: a tenant's admin or staff never sees another tenant's rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s

Role = Literal["system", "admin", "staff"]
ROLES: tuple[Role, ...] = ("system", "admin", "staff")
TENANT_ROLES: tuple[Role, ...] = ("admin", "staff")
Status = Literal["active", "disabled"]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in admin, with the tenant its rights are limited to."""

    admin_id: int
    username: str
    role: Role
    tenant_id: int | None

    @property
    def is_system(self) -> bool:
        """Return True for the box owner (every tenant)."""
        return self.role == "system"

    def can_access(self, tenant_id: int | None) -> bool:
        """Return True when this actor may see data of that tenant (None: system data)."""
        return self.is_system or (tenant_id is not None and tenant_id == self.tenant_id)


class Admin(BaseModel):
    id: int
    tenant_id: int | None
    username: str
    role: Role
    status: Status
    login_count: int
    last_login_at: int | None
    last_login_address: str | None
    failed_logins: int
    last_failed_login_at: int | None
    password_changed_at: int
    created_at: int
    updated_at: int

    def actor(self) -> Actor:
        """Return this admin as the acting identity."""
        return Actor(self.id, self.username, self.role, self.tenant_id)


class AdminCredentials(BaseModel):
    """An admin with its password hash: only for sign-in, never rendered."""

    admin: Admin
    password_hash: str

    def __repr__(self) -> str:  # keep the hash out of logs and tracebacks
        return f"AdminCredentials(admin_id={self.admin.id})"

    __str__ = __repr__


_COLUMNS = (
    "id, tenant_id, username, role, status, login_count, last_login_at, last_login_address,"
    " failed_logins, last_failed_login_at, password_changed_at, created_at, updated_at"
)


def _admin(row: sqlite3.Row) -> Admin:
    return Admin.model_validate({k: v for k, v in dict(row).items() if k != "password_hash"})


def _scope(actor: Actor) -> int | None:
    # None means "every tenant"; only a system admin gets it.
    return None if actor.is_system else actor.tenant_id if actor.tenant_id is not None else -1


async def _one(
    conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]
) -> sqlite3.Row | None:
    async with conn.execute(sql, params) as cursor:
        row: sqlite3.Row | None = await cursor.fetchone()
    return row


async def create_admin(
    conn: aiosqlite.Connection,
    *,
    tenant_id: int | None,
    username: str,
    password_hash: str,
    role: Role,
) -> Admin:
    """Insert an admin inside the caller's transaction; Conflict when the name is taken."""
    if (role == "system") != (tenant_id is None):
        raise ValueError("system admins have no tenant; tenant admins and staff have one")
    now = now_s()
    try:
        cursor = await conn.execute(
            "INSERT INTO admins (tenant_id, username, password_hash, role,"
            " password_changed_at, created_at, updated_at)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (tenant_id, username, password_hash, role, now, now, now),
        )
    except sqlite3.IntegrityError as exc:
        if "FOREIGN KEY" in str(exc):
            raise NotFound(f"tenant {tenant_id}") from exc
        raise Conflict(f"the user name '{username}' is taken") from exc
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return _admin(row)


async def username_taken(db: Database, username: str) -> bool:
    """Return True when an admin already has this user name (any tenant, any case)."""
    row = await db.fetchone("SELECT 1 FROM admins WHERE username = ?", (username,))
    return row is not None


async def get_admin_in(conn: aiosqlite.Connection, admin_id: int) -> Admin:
    """Return an admin by id inside a transaction (jobs re-read by id), or raise NotFound."""
    row = await _one(conn, f"SELECT {_COLUMNS} FROM admins WHERE id = ?", (admin_id,))
    if row is None:
        raise NotFound(f"admin {admin_id}")
    return _admin(row)


async def get_admin(db: Database, actor: Actor, admin_id: int) -> Admin:
    """Return an admin the actor may see, or raise NotFound."""
    scope = _scope(actor)
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM admins WHERE id = ? AND (? IS NULL OR tenant_id = ?)",
        (admin_id, scope, scope),
    )
    if row is None:
        raise NotFound(f"admin {admin_id}")
    return _admin(row)


async def list_admins(db: Database, actor: Actor, *, tenant_id: int | None = None) -> list[Admin]:
    """Return the admins the actor may see (a system admin may filter by tenant)."""
    scope = _scope(actor)
    if scope is None and tenant_id is not None:
        scope = tenant_id
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM admins WHERE (? IS NULL OR tenant_id = ?)"
        " ORDER BY tenant_id IS NOT NULL, tenant_id, username",
        (scope, scope),
    )
    return [_admin(row) for row in rows]


async def count_admins(db: Database, actor: Actor) -> int:
    """Return how many admins the actor may see."""
    scope = _scope(actor)
    row = await db.fetchone(
        "SELECT COUNT(*) FROM admins WHERE (? IS NULL OR tenant_id = ?)", (scope, scope)
    )
    return int(row[0]) if row else 0


async def count_system_admins(db: Database) -> int:
    """Return how many system admins exist (the CLI refuses nothing, but reports it)."""
    row = await db.fetchone("SELECT COUNT(*) FROM admins WHERE role = 'system'")
    return int(row[0]) if row else 0


async def get_credentials(db: Database, username: str) -> AdminCredentials | None:
    """Return the admin with this user name and its password hash, for sign-in."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, password_hash FROM admins WHERE username = ?", (username,)
    )
    if row is None:
        return None
    return AdminCredentials(admin=_admin(row), password_hash=row["password_hash"])


async def get_password_hash_in(conn: aiosqlite.Connection, admin_id: int) -> str:
    """Return an admin's password hash inside a transaction."""
    row = await _one(conn, "SELECT password_hash FROM admins WHERE id = ?", (admin_id,))
    if row is None:
        raise NotFound(f"admin {admin_id}")
    return str(row["password_hash"])


async def update_admin(
    conn: aiosqlite.Connection,
    actor: Actor,
    admin_id: int,
    *,
    role: Role | None = None,
    status: Status | None = None,
) -> Admin:
    """Change an admin's role or status, within the actor's tenant; NotFound otherwise."""
    scope = _scope(actor)
    cursor = await conn.execute(
        "UPDATE admins SET role = COALESCE(?, role), status = COALESCE(?, status), updated_at = ?"
        f" WHERE id = ? AND (? IS NULL OR tenant_id = ?) RETURNING {_COLUMNS}",
        (role, status, now_s(), admin_id, scope, scope),
    )
    row = await cursor.fetchone()
    await cursor.close()
    if row is None:
        raise NotFound(f"admin {admin_id}")
    if status == "disabled":
        await conn.execute("DELETE FROM admin_sessions WHERE admin_id = ?", (admin_id,))
    return _admin(row)


async def delete_admin(conn: aiosqlite.Connection, actor: Actor, admin_id: int) -> Admin:
    """Delete an admin within the actor's tenant (its sessions go with it); NotFound otherwise."""
    scope = _scope(actor)
    cursor = await conn.execute(
        f"DELETE FROM admins WHERE id = ? AND (? IS NULL OR tenant_id = ?) RETURNING {_COLUMNS}",
        (admin_id, scope, scope),
    )
    row = await cursor.fetchone()
    await cursor.close()
    if row is None:
        raise NotFound(f"admin {admin_id}")
    return _admin(row)


async def set_password(
    conn: aiosqlite.Connection, admin_id: int, password_hash: str, *, keep_session: str | None
) -> int:
    """Store a new password hash and end the admin's other sessions; return how many ended."""
    now = now_s()
    cursor = await conn.execute(
        "UPDATE admins SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?",
        (password_hash, now, now, admin_id),
    )
    changed = cursor.rowcount
    await cursor.close()
    if changed != 1:
        raise NotFound(f"admin {admin_id}")
    cursor = await conn.execute(
        "DELETE FROM admin_sessions WHERE admin_id = ? AND id IS NOT ?", (admin_id, keep_session)
    )
    ended = cursor.rowcount
    await cursor.close()
    return ended


# Sessions -----------------------------------------------------------------


@dataclass(frozen=True)
class SessionRecord:
    actor: Actor
    created_at: int
    last_seen_at: int


async def create_session(
    conn: aiosqlite.Connection,
    session_id: str,
    admin_id: int,
    *,
    address: str | None,
    user_agent: str | None,
) -> None:
    """Store a new session (its id is the HMAC of the cookie token)."""
    now = now_s()
    await conn.execute(
        "INSERT INTO admin_sessions (id, admin_id, created_at, last_seen_at, address, user_agent)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (session_id, admin_id, now, now, address, (user_agent or "")[:200]),
    )


async def get_session(db: Database, session_id: str) -> SessionRecord | None:
    """Return a session with its active admin, or None (unknown, or admin disabled)."""
    row = await db.fetchone(
        "SELECT a.id, a.username, a.role, a.tenant_id, s.created_at, s.last_seen_at"
        " FROM admin_sessions s JOIN admins a ON a.id = s.admin_id"
        " WHERE s.id = ? AND a.status = 'active'",
        (session_id,),
    )
    if row is None:
        return None
    actor = Actor(row["id"], row["username"], row["role"], row["tenant_id"])
    return SessionRecord(actor, row["created_at"], row["last_seen_at"])


async def touch_session(db: Database, session_id: str) -> None:
    """Note activity on a session (for the idle timeout)."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE admin_sessions SET last_seen_at = ? WHERE id = ?", (now_s(), session_id)
        )


async def delete_session(db: Database, session_id: str) -> None:
    """End one session (sign-out, timeout)."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM admin_sessions WHERE id = ?", (session_id,))


async def count_sessions(db: Database, admin_id: int) -> int:
    """Return how many sessions an admin has open."""
    row = await db.fetchone("SELECT COUNT(*) FROM admin_sessions WHERE admin_id = ?", (admin_id,))
    return int(row[0]) if row else 0


# Sign-in records (written by jobs) ---------------------------------------


async def record_login(
    conn: aiosqlite.Connection, admin_id: int, *, address: str | None, at: int
) -> bool:
    """Count a successful sign-in; False when the admin no longer exists."""
    cursor = await conn.execute(
        "UPDATE admins SET login_count = login_count + 1,"
        " last_login_at = MAX(COALESCE(last_login_at, 0), ?),"
        " last_login_address = ?, failed_logins = 0 WHERE id = ?",
        (at, address, admin_id),
    )
    changed = cursor.rowcount == 1
    await cursor.close()
    return changed


async def record_login_failure(
    conn: aiosqlite.Connection, username: str, *, address: str | None, reason: str, at: int
) -> Admin | None:
    """Log a failed sign-in and count it on the admin, if the name exists."""
    row = await _one(conn, f"SELECT {_COLUMNS} FROM admins WHERE username = ?", (username,))
    admin_id = row["id"] if row is not None else None
    await conn.execute(
        "INSERT INTO login_failures (username, admin_id, address, reason, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (username[:100], admin_id, address, reason, at),
    )
    if admin_id is None:
        return None
    cursor = await conn.execute(
        "UPDATE admins SET failed_logins = failed_logins + 1, last_failed_login_at = ?"
        f" WHERE id = ? RETURNING {_COLUMNS}",
        (at, admin_id),
    )
    updated = await cursor.fetchone()
    await cursor.close()
    return _admin(updated) if updated is not None else None
