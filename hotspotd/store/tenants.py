"""SQL for tenants (operators)."""

from __future__ import annotations

import sqlite3

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s


class Tenant(BaseModel):
    id: int
    slug: str
    name: str
    timezone: str
    currency: str
    status: str
    created_at: int


async def create_tenant(
    conn: aiosqlite.Connection,
    *,
    slug: str,
    name: str,
    timezone: str = "Africa/Nairobi",
    currency: str = "KES",
) -> Tenant:
    """Insert a tenant inside the caller's transaction."""
    try:
        cursor = await conn.execute(
            "INSERT INTO tenants (slug, name, timezone, currency, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING *",
            (slug, name, timezone, currency, now_s()),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"a tenant with slug '{slug}' already exists") from exc
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return Tenant.model_validate(dict(row))


async def get_tenant(db: Database, tenant_id: int) -> Tenant:
    """Return one tenant or raise NotFound."""
    row = await db.fetchone("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise NotFound(f"tenant {tenant_id}")
    return Tenant.model_validate(dict(row))


async def get_tenant_by_slug(db: Database, slug: str) -> Tenant:
    """Return the tenant with this slug or raise NotFound."""
    row = await db.fetchone("SELECT * FROM tenants WHERE slug = ?", (slug,))
    if row is None:
        raise NotFound(f"tenant '{slug}'")
    return Tenant.model_validate(dict(row))


async def list_tenants(db: Database) -> list[Tenant]:
    """Return every tenant (system admin view)."""
    rows = await db.fetchall("SELECT * FROM tenants ORDER BY id")
    return [Tenant.model_validate(dict(row)) for row in rows]


async def dashboard_counts(db: Database, tenant_id: int | None) -> dict[str, int]:
    """Return tenant, admin and router counts: one tenant's, or every tenant's for None."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM tenants WHERE ? IS NULL OR id = ?) AS tenants,"
        " (SELECT COUNT(*) FROM admins WHERE ? IS NULL OR tenant_id = ?) AS admins,"
        " (SELECT COUNT(*) FROM routers WHERE ? IS NULL OR tenant_id = ?) AS routers,"
        " (SELECT COUNT(*) FROM routers WHERE (? IS NULL OR tenant_id = ?)"
        "  AND status = 'online') AS routers_online",
        (tenant_id,) * 8,
    )
    assert row is not None
    return {key: int(row[key]) for key in ("tenants", "admins", "routers", "routers_online")}
