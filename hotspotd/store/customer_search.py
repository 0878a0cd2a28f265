"""SQL for the admin's customer search and a customer's subscriptions."""

from __future__ import annotations

from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.customers import Customer
from hotspotd.store.errors import NotFound
from hotspotd.store.subscriptions import Status, Subscription


class CustomerHit(BaseModel):
    """A search result: the customer and its latest subscription."""

    customer: Customer
    latest_subscription_id: int | None
    latest_status: Status | None
    latest_expires_at: int | None
    latest_username: str | None


def _like(text: str) -> str:
    # The user's text is data: escape LIKE's wildcards.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_customers(
    db: Database, tenant_id: int | None, query: str, *, limit: int = 50
) -> list[CustomerHit]:
    """Find a tenant's customers (every tenant's for None) by phone, name, MAC or user name."""
    pattern = _like(query.strip())
    rows = await db.fetchall(
        "SELECT c.*, s.id AS sub_id, s.status AS sub_status, s.expires_at AS sub_expires_at,"
        " s.username AS sub_username"
        " FROM customers c LEFT JOIN subscriptions s ON s.id = ("
        "  SELECT id FROM subscriptions WHERE customer_id = c.id ORDER BY id DESC LIMIT 1)"
        " WHERE (? IS NULL OR c.tenant_id = ?)"
        " AND (c.phone LIKE ? ESCAPE '\\' OR IFNULL(c.name, '') LIKE ? ESCAPE '\\'"
        "  OR IFNULL(c.mac, '') LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM subscriptions x"
        "  WHERE x.customer_id = c.id AND x.username LIKE ? ESCAPE '\\'))"
        " ORDER BY c.id DESC LIMIT ?",
        (tenant_id, tenant_id, pattern, pattern, pattern, pattern, limit),
    )
    hits = []
    for row in rows:
        data = dict(row)
        hits.append(
            CustomerHit(
                customer=Customer.model_validate({k: data[k] for k in Customer.model_fields}),
                latest_subscription_id=data["sub_id"],
                latest_status=data["sub_status"],
                latest_expires_at=data["sub_expires_at"],
                latest_username=data["sub_username"],
            )
        )
    return hits


async def get_customer_scoped(db: Database, tenant_id: int | None, customer_id: int) -> Customer:
    """Return a customer of the tenant (any tenant for None), or raise NotFound."""
    row = await db.fetchone(
        "SELECT * FROM customers WHERE id = ? AND (? IS NULL OR tenant_id = ?)",
        (customer_id, tenant_id, tenant_id),
    )
    if row is None:
        raise NotFound(f"customer {customer_id}")
    return Customer.model_validate(dict(row))


async def customer_subscriptions(db: Database, customer_id: int) -> list[Subscription]:
    """Return a customer's subscriptions, newest first."""
    rows = await db.fetchall(
        "SELECT * FROM subscriptions WHERE customer_id = ? ORDER BY id DESC", (customer_id,)
    )
    return [Subscription.model_validate(dict(row)) for row in rows]


async def get_subscription_scoped(
    db: Database, tenant_id: int | None, subscription_id: int
) -> Subscription:
    """Return a subscription of the tenant (any tenant for None), or raise NotFound."""
    row = await db.fetchone(
        "SELECT * FROM subscriptions WHERE id = ? AND (? IS NULL OR tenant_id = ?)",
        (subscription_id, tenant_id, tenant_id),
    )
    if row is None:
        raise NotFound(f"subscription {subscription_id}")
    return Subscription.model_validate(dict(row))
