"""Build domain rows for tests through the real store functions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from hotspotd.db import Database
from hotspotd.store import customers, plans, subscriptions, tenants
from hotspotd.store.plans import Plan
from hotspotd.store.subscriptions import Subscription
from hotspotd.store.tenants import Tenant


@dataclass
class Purchase:
    tenant: Tenant
    plan: Plan
    subscription: Subscription


async def make_tenant(db: Database, slug: str = "acme") -> Tenant:
    """Create a tenant."""
    async with db.transaction() as conn:
        return await tenants.create_tenant(conn, slug=slug, name=slug.title())


async def make_plan(db: Database, tenant: Tenant, **overrides: object) -> Plan:
    """Create a plan for the tenant (1 hour, 2M/5M, one device unless overridden)."""
    values: dict[str, object] = {
        "name": f"plan-{secrets.token_hex(3)}",
        "price_cents": 1000,
        "currency": tenant.currency,
        "validity_s": 3600,
        "rate_limit": "2M/5M",
        "shared_devices": 1,
    }
    values.update(overrides)
    async with db.transaction() as conn:
        return await plans.create_plan(conn, tenant.id, **values)  # type: ignore[arg-type]


async def make_pending_subscription(
    db: Database, tenant: Tenant, plan: Plan, *, phone: str | None = None
) -> Subscription:
    """Record a purchase as a pending subscription, as the portal does before enqueueing."""
    phone = phone or f"2547{secrets.randbelow(10**8):08d}"
    async with db.transaction() as conn:
        customer = await customers.upsert_customer(conn, tenant.id, phone=phone)
        return await subscriptions.create_pending_subscription(
            conn,
            tenant.id,
            customer_id=customer.id,
            plan_id=plan.id,
            username=f"u{secrets.token_hex(4)}",
            password=secrets.token_urlsafe(8),
        )
