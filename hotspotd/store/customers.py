"""SQL for a tenant's customers (identified by phone, and MAC when known)."""

from __future__ import annotations

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.errors import NotFound
from hotspotd.timeutil import now_s


class Customer(BaseModel):
    id: int
    tenant_id: int
    phone: str
    mac: str | None
    name: str | None
    created_at: int


async def upsert_customer(
    conn: aiosqlite.Connection, tenant_id: int, *, phone: str, mac: str | None = None
) -> Customer:
    """Return the tenant's customer with this phone, creating it (or noting the MAC)."""
    cursor = await conn.execute(
        "INSERT INTO customers (tenant_id, phone, mac, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (tenant_id, phone) DO UPDATE SET mac = COALESCE(excluded.mac, mac)"
        " RETURNING *",
        (tenant_id, phone, mac, now_s()),
    )
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return Customer.model_validate(dict(row))


async def get_customer(db: Database, tenant_id: int, customer_id: int) -> Customer:
    """Return one of the tenant's customers or raise NotFound."""
    row = await db.fetchone(
        "SELECT * FROM customers WHERE id = ? AND tenant_id = ?", (customer_id, tenant_id)
    )
    if row is None:
        raise NotFound(f"customer {customer_id}")
    return Customer.model_validate(dict(row))
