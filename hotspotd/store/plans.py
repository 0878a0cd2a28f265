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


async def update_plan(
    conn: aiosqlite.Connection,
    tenant_id: int,
    plan_id: int,
    *,
    name: str,
    price_cents: int,
    currency: str,
    validity_s: int,
    data_quota_bytes: int | None,
    rate_limit: str | None,
    shared_devices: int,
    active: bool,
    hidden: bool,
) -> Plan:
    """Replace a plan's fields inside the caller's transaction; NotFound, Conflict on name."""
    try:
        rows = list(
            await conn.execute_fetchall(
                "UPDATE plans SET name = ?, price_cents = ?, currency = ?, validity_s = ?,"
                " data_quota_bytes = ?, rate_limit = ?, shared_devices = ?, active = ?,"
                " hidden = ? WHERE id = ? AND tenant_id = ? RETURNING *",
                (
                    name,
                    price_cents,
                    currency,
                    validity_s,
                    data_quota_bytes,
                    rate_limit,
                    shared_devices,
                    active,
                    hidden,
                    plan_id,
                    tenant_id,
                ),
            )
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"a plan named '{name}' already exists") from exc
    if not rows:
        raise NotFound(f"plan {plan_id}")
    return Plan.model_validate(dict(rows[0]))


async def delete_plan(conn: aiosqlite.Connection, tenant_id: int, plan_id: int) -> Plan:
    """Delete an unused plan; Conflict if subscriptions use it (hide it instead)."""
    plan = await get_plan(conn, tenant_id, plan_id)
    used = await conn.execute_fetchall(
        "SELECT 1 FROM subscriptions WHERE plan_id = ? LIMIT 1", (plan_id,)
    )
    if list(used):
        raise Conflict("the plan has subscriptions: hide or deactivate it instead")
    await conn.execute("DELETE FROM plans WHERE id = ? AND tenant_id = ?", (plan_id, tenant_id))
    return plan


async def list_plans_scoped(db: Database, tenant_id: int | None) -> list[Plan]:
    """Return one tenant's plans, or every tenant's (None: a system admin's view)."""
    rows = await db.fetchall(
        "SELECT * FROM plans WHERE ? IS NULL OR tenant_id = ? ORDER BY tenant_id, price_cents, id",
        (tenant_id, tenant_id),
    )
    return [Plan.model_validate(dict(row)) for row in rows]


async def get_plan_scoped(db: Database, tenant_id: int | None, plan_id: int) -> Plan:
    """Return a plan of the tenant, or of any tenant (None: a system admin); else NotFound."""
    row = await db.fetchone(
        "SELECT * FROM plans WHERE id = ? AND (? IS NULL OR tenant_id = ?)",
        (plan_id, tenant_id, tenant_id),
    )
    if row is None:
        raise NotFound(f"plan {plan_id}")
    return Plan.model_validate(dict(row))
