"""SQL for subscriptions: a customer's access to a plan, and its RADIUS user name."""

from __future__ import annotations

import sqlite3
from typing import Literal

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s

Status = Literal["pending", "active", "expired", "suspended"]


class Subscription(BaseModel):
    id: int
    tenant_id: int
    customer_id: int
    plan_id: int
    username: str
    password: str
    status: Status
    starts_at: int | None
    expires_at: int | None
    created_at: int
    updated_at: int

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"Subscription(id={self.id}, username={self.username!r}, status={self.status})"

    __str__ = __repr__


async def create_pending_subscription(
    conn: aiosqlite.Connection,
    tenant_id: int,
    *,
    customer_id: int,
    plan_id: int,
    username: str,
    password: str,
) -> Subscription:
    """Record a purchase as a pending subscription, before the job that activates it."""
    now = now_s()
    try:
        cursor = await conn.execute(
            "INSERT INTO subscriptions (tenant_id, customer_id, plan_id, username, password,"
            " status, created_at, updated_at)"
            " SELECT ?, c.id, p.id, ?, ?, 'pending', ?, ?"
            " FROM customers c, plans p"
            " WHERE c.id = ? AND c.tenant_id = ? AND p.id = ? AND p.tenant_id = ?"
            " RETURNING *",
            (tenant_id, username, password, now, now, customer_id, tenant_id, plan_id, tenant_id),
        )
    except sqlite3.IntegrityError as exc:
        raise Conflict(f"user name '{username}' is taken") from exc
    row = await cursor.fetchone()
    await cursor.close()
    if row is None:  # customer or plan of another tenant, or missing
        raise NotFound(f"customer {customer_id} or plan {plan_id}")
    return Subscription.model_validate(dict(row))


async def get_subscription_in(conn: aiosqlite.Connection, subscription_id: int) -> Subscription:
    """Return a subscription by id inside a transaction (jobs re-read by id)."""
    rows = list(
        await conn.execute_fetchall("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,))
    )
    row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"subscription {subscription_id}")
    return Subscription.model_validate(dict(row))


async def get_subscription(db: Database, tenant_id: int, subscription_id: int) -> Subscription:
    """Return one of the tenant's subscriptions or raise NotFound."""
    row = await db.fetchone(
        "SELECT * FROM subscriptions WHERE id = ? AND tenant_id = ?", (subscription_id, tenant_id)
    )
    if row is None:
        raise NotFound(f"subscription {subscription_id}")
    return Subscription.model_validate(dict(row))


async def activate_subscription(
    conn: aiosqlite.Connection, subscription_id: int, *, starts_at: int, expires_at: int
) -> bool:
    """Mark a pending subscription active; False if it was not pending (already done)."""
    rows = await conn.execute_fetchall(
        "UPDATE subscriptions SET status = 'active', starts_at = ?, expires_at = ?, updated_at = ?"
        " WHERE id = ? AND status = 'pending' RETURNING id",
        (starts_at, expires_at, now_s(), subscription_id),
    )
    return len(list(rows)) == 1


async def list_pending_subscription_ids(db: Database, *, older_than_s: int) -> list[int]:
    """Return pending subscriptions created before a cut-off (for the reconciler)."""
    rows = await db.fetchall(
        "SELECT id FROM subscriptions WHERE status = 'pending' AND created_at <= ? ORDER BY id",
        (now_s() - older_than_s,),
    )
    return [int(row["id"]) for row in rows]
