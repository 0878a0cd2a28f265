"""Demo data for `hotspotd dev`: one operator with plans and its simulated router."""

from __future__ import annotations

import logging

from hotspotd.db import Database
from hotspotd.passwords import hash_password
from hotspotd.settings import Settings
from hotspotd.store import admins, plans, tenants
from hotspotd.store import routers as router_store
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from radius import nas
from routers.registration import Registered, RouterRegistration, register_router

logger = logging.getLogger(__name__)

DEMO_TENANT = "demo"
DEMO_PLANS = (
    # name, price (cents), validity (s), rate limit, shared devices, data quota
    ("1 hour", 1000, 3600, "2M/2M", 1, None),
    ("1 day", 5000, 86400, "5M/5M", 2, None),
    ("1 week, 5 GB", 25000, 7 * 86400, "10M/10M", 3, 5 * 1024**3),
)


DEMO_SYSTEM_ADMIN = "admin"
DEMO_TENANT_ADMIN = "demo-admin"


async def seed_demo_data(db: Database, *, admin_password: str) -> None:
    """Create the demo operator, its plans and two admins (box owner, operator) once."""
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
            password_hash = hash_password(admin_password)
            await admins.create_admin(
                conn,
                tenant_id=None,
                username=DEMO_SYSTEM_ADMIN,
                password_hash=password_hash,
                role="system",
            )
            await admins.create_admin(
                conn,
                tenant_id=tenant.id,
                username=DEMO_TENANT_ADMIN,
                password_hash=password_hash,
                role="admin",
            )
    if created:
        logger.info("demo operator '%s' created with %d plans", DEMO_TENANT, len(DEMO_PLANS))


# The demo acts as the box owner when it registers its simulated router.
DEMO_ACTOR = Actor(admin_id=0, username="hotspotd dev", role="system", tenant_id=None)


async def register_demo_router(
    db: Database, settings: Settings, *, host: str, api_port: int, password: str
) -> Registered:
    """Register the simulated router through the real registration code.

    The simulator boots unconfigured on a new API port each run, so a previous run's router
    row (and its nas row) is removed first.
    """
    tenant = await tenants.get_tenant_by_slug(db, DEMO_TENANT)
    for router in await router_store.list_routers(db, DEMO_ACTOR):
        if router.nas_ip == host or (router.tenant_id == tenant.id and router.name == "demo"):
            async with db.transaction() as conn:
                await router_store.delete_router(conn, DEMO_ACTOR, router.id)
                await nas.remove_nas(conn, router.nas_ip)
    request = RouterRegistration(
        name="demo",
        host=host,
        api_port=api_port,
        username="admin",
        password=password,  # type: ignore[arg-type]
        tenant_id=tenant.id,
    )
    return await register_router(db, settings, DEMO_ACTOR, request)
