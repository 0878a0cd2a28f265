"""Demo data for `hotspotd dev`: one operator with plans and its simulated router."""

from __future__ import annotations

import logging

from hotspotd.db import Database
from hotspotd.store import plans, tenants
from hotspotd.store.errors import NotFound
from radius import nas

logger = logging.getLogger(__name__)

DEMO_TENANT = "demo"
DEMO_PLANS = (
    # name, price (cents), validity (s), rate limit, shared devices, data quota
    ("1 hour", 1000, 3600, "2M/2M", 1, None),
    ("1 day", 5000, 86400, "5M/5M", 2, None),
    ("1 week, 5 GB", 25000, 7 * 86400, "10M/10M", 3, 5 * 1024**3),
)


async def seed_demo_data(db: Database, *, router_address: str, router_secret: str) -> None:
    """Create the demo operator and its plans once; (re)point the nas row at the simulator."""
    try:
        await tenants.get_tenant_by_slug(db, DEMO_TENANT)
        created = False
    except NotFound:
        created = True
    async with db.transaction() as conn:
        if created:
            tenant = await tenants.create_tenant(conn, slug=DEMO_TENANT, name="Demo Hotspot")
            for name, price, validity, rate, devices, quota in DEMO_PLANS:
                await plans.create_plan(
                    conn,
                    tenant.id,
                    name=name,
                    price_cents=price,
                    currency=tenant.currency,
                    validity_s=validity,
                    rate_limit=rate,
                    shared_devices=devices,
                    data_quota_bytes=quota,
                )
        await nas.add_nas(
            conn,
            ip=router_address,
            secret=router_secret,
            shortname="demo-router",
            description="hotspotd dev: simulated router",
        )
    if created:
        logger.info("demo operator '%s' created with %d plans", DEMO_TENANT, len(DEMO_PLANS))
