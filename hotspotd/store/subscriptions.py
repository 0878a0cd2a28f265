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


# -- expiry, renewal, admin actions -----------------------------------------------------------


async def list_due_expiries(db: Database, *, now: int, limit: int = 500) -> list[Subscription]:
    """Return active subscriptions whose expiry has passed, oldest expiry first."""
    rows = await db.fetchall(
        "SELECT * FROM subscriptions WHERE status = 'active' AND expires_at <= ?"
        " ORDER BY expires_at, id LIMIT ?",
        (now, limit),
    )
    return [Subscription.model_validate(dict(row)) for row in rows]


async def expire_subscription(
    conn: aiosqlite.Connection, subscription_id: int, *, now: int
) -> bool:
    """Mark an active, past-expiry subscription expired; False if another run already did."""
    rows = await conn.execute_fetchall(
        "UPDATE subscriptions SET status = 'expired', updated_at = ?"
        " WHERE id = ? AND status = 'active' AND expires_at <= ? RETURNING id",
        (now, subscription_id, now),
    )
    return len(list(rows)) == 1


async def suspend_subscription(conn: aiosqlite.Connection, subscription_id: int) -> bool:
    """Mark an active subscription suspended (by an admin); False if it was not active."""
    rows = await conn.execute_fetchall(
        "UPDATE subscriptions SET status = 'suspended', updated_at = ?"
        " WHERE id = ? AND status = 'active' RETURNING id",
        (now_s(), subscription_id),
    )
    return len(list(rows)) == 1


async def resume_subscription(
    conn: aiosqlite.Connection, subscription_id: int, *, now: int
) -> Status | None:
    """Lift a suspension: active if time is left, else expired; None if it was not suspended."""
    rows = list(
        await conn.execute_fetchall(
            "UPDATE subscriptions SET updated_at = ?,"
            " status = CASE WHEN expires_at > ? THEN 'active' ELSE 'expired' END"
            " WHERE id = ? AND status = 'suspended' RETURNING status",
            (now, now, subscription_id),
        )
    )
    if not rows:
        return None
    status: Status = rows[0][0]
    return status


async def extend_subscription(
    conn: aiosqlite.Connection,
    subscription_id: int,
    *,
    base_expires_at: int | None,
    new_expires_at: int,
    plan_id: int | None = None,
    now: int,
) -> bool:
    """Set a new expiry and make the subscription active, if its expiry is still the base.

    The condition makes a renewal idempotent: a re-run of the same renewal finds the expiry
    already moved and changes nothing. A suspended subscription stays suspended.
    """
    rows = await conn.execute_fetchall(
        "UPDATE subscriptions SET expires_at = ?, plan_id = IFNULL(?, plan_id),"
        " starts_at = IFNULL(starts_at, ?), updated_at = ?,"
        " status = CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'active' END"
        " WHERE id = ? AND status IN ('active', 'expired', 'suspended') AND expires_at IS ?"
        " RETURNING id",
        (new_expires_at, plan_id, now, now, subscription_id, base_expires_at),
    )
    return len(list(rows)) == 1


class RadiusState(BaseModel):
    """A subscription beside what FreeRADIUS holds for its user (for the reconciler)."""

    subscription_id: int
    tenant_id: int
    plan_id: int
    username: str
    status: Status
    expires_at: int | None
    has_password: bool
    rejected: bool
    expiration: str | None


async def list_radius_states(db: Database, *, ended_since: int) -> list[RadiusState]:
    """Return active subscriptions, and those ended since a time, with their radcheck state.

    The radcheck rows are read here, in one join, rather than per user through radius/:
    the reconciler compares every subscription every run.
    """
    rows = await db.fetchall(
        "SELECT s.id AS subscription_id, s.tenant_id, s.plan_id, s.username, s.status,"
        " s.expires_at,"
        " EXISTS (SELECT 1 FROM radcheck c WHERE c.username = s.username"
        "  AND c.attribute = 'Cleartext-Password') AS has_password,"
        " EXISTS (SELECT 1 FROM radcheck c WHERE c.username = s.username"
        "  AND c.attribute = 'Auth-Type' AND c.value = 'Reject') AS rejected,"
        " (SELECT c.value FROM radcheck c WHERE c.username = s.username"
        "  AND c.attribute = 'Expiration' LIMIT 1) AS expiration"
        " FROM subscriptions s WHERE s.status = 'active'"
        " OR (s.status IN ('expired', 'suspended') AND s.updated_at >= ?) ORDER BY s.id",
        (ended_since,),
    )
    return [RadiusState.model_validate(dict(row)) for row in rows]


async def list_ended_with_open_sessions(db: Database, *, updated_since: int) -> list[Subscription]:
    """Return expired/suspended subscriptions whose user still has recently updated sessions."""
    # Driven from the open radacct rows (few, indexed) rather than the growing expired list.
    rows = await db.fetchall(
        "SELECT DISTINCT s.* FROM radacct a JOIN subscriptions s ON s.username = a.username"
        " WHERE a.acctstoptime IS NULL AND IFNULL(a.acctupdatetime, a.acctstarttime) >= ?"
        " AND s.status IN ('expired', 'suspended') ORDER BY s.id",
        (updated_since,),
    )
    return [Subscription.model_validate(dict(row)) for row in rows]


async def renewal_applied(
    conn: aiosqlite.Connection, tenant_id: int, subscription_id: int, renewal_key: str
) -> bool:
    """Return True if a renewal with this key (e.g. a payment id) was already applied."""
    # tenant_id first: the events_tenant index narrows the scan to the tenant's events.
    rows = await conn.execute_fetchall(
        "SELECT 1 FROM events WHERE tenant_id = ? AND type = 'SubscriptionRenewed'"
        " AND subject = ? AND json_extract(payload, '$.renewal_key') = ? LIMIT 1",
        (tenant_id, f"subscription:{subscription_id}", renewal_key),
    )
    return bool(list(rows))
