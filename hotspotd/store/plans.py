"""SQL for a tenant's plans; each plan is also a RADIUS group (see radius/)."""

from __future__ import annotations

import sqlite3

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s


class Plan(BaseModel):
    id: int
    tenant_id: int
    name: str
    price_cents: int
    currency: str
    validity_s: int
    data_quota_bytes: int | None
    rate_limit: str | None
    shared_devices: int
    active: bool
    hidden: bool
    created_at: int

    @property
    def radius_group(self) -> str:
        """Return the RADIUS group name that carries this plan's limits."""
        return plan_group_name(self.id)


def plan_group_name(plan_id: int) -> str:
    """Return the RADIUS group name for a plan id."""
    return f"plan-{plan_id}"


async def create_plan(
    conn: aiosqlite.Connection,
    tenant_id: int,
    *,
    name: str,
    price_cents: int,
    currency: str,
    validity_s: int,
    data_quota_bytes: int | None = None,
    rate_limit: str | None = None,
    shared_devices: int = 1,
) -> Plan:
    """Insert a plan for a tenant inside the caller's transaction."""
    try:
        cursor = await conn.execute(
            "INSERT INTO plans (tenant_id, name, price_cents, currency, validity_s,"
            " data_quota_bytes, rate_limit, shared_devices, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (
                tenant_id,
                name,
                price_cents,
                currency,
                validity_s,
                data_quota_bytes,
                rate_limit,
                shared_devices,
                now_s(),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"a plan named '{name}' already exists") from exc
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return Plan.model_validate(dict(row))


async def get_plan(db: Database | aiosqlite.Connection, tenant_id: int, plan_id: int) -> Plan:
    """Return one of the tenant's plans or raise NotFound."""
    sql = "SELECT * FROM plans WHERE id = ? AND tenant_id = ?"
    if isinstance(db, Database):
        row = await db.fetchone(sql, (plan_id, tenant_id))
    else:
        rows = list(await db.execute_fetchall(sql, (plan_id, tenant_id)))
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"plan {plan_id}")
    return Plan.model_validate(dict(row))


async def list_plans(db: Database, tenant_id: int, *, include_hidden: bool = True) -> list[Plan]:
    """Return a tenant's plans, cheapest first."""
    rows = await db.fetchall(
        "SELECT * FROM plans WHERE tenant_id = ? AND (? OR hidden = 0) ORDER BY price_cents, id",
        (tenant_id, include_hidden),
    )
    return [Plan.model_validate(dict(row)) for row in rows]
