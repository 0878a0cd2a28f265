"""Jobs that give a customer access: provision a hotspot user, and its reconciler."""

from __future__ import annotations

import logging
from typing import Any

from hotspotd.events import publish_event, record_event
from hotspotd.store import plans, subscriptions
from hotspotd.store.errors import NotFound
from hotspotd.timeutil import now_s, to_datetime
from radius import groups, users
from tasks.context import job_db, job_settings
from tasks.retry import TRANSIENT_ERRORS, retry_later

logger = logging.getLogger(__name__)


async def provision_hotspot_user(ctx: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """Activate a pending subscription and its RADIUS user in one transaction."""
    try:
        return await _provision(ctx, subscription_id)
    except TRANSIENT_ERRORS as exc:
        # After the last try the subscription stays pending: the reconciler queues it again.
        retry_later(ctx, exc)


async def _provision(ctx: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    db = job_db(ctx)
    settings = job_settings(ctx)
    async with db.transaction() as conn:
        try:
            sub = await subscriptions.get_subscription_in(conn, subscription_id)
        except NotFound:
            logger.warning("subscription %d vanished before provisioning", subscription_id)
            return {"subscription_id": subscription_id, "status": "missing"}
        if sub.status != "pending":
            # Re-run (at-least-once delivery, reconciler): the work is already done.
            return {"subscription_id": subscription_id, "status": sub.status}
        plan = await plans.get_plan(conn, sub.tenant_id, sub.plan_id)
        starts_at = now_s()
        expires_at = starts_at + plan.validity_s
        # Plan edits rewrite the group; here it is only created if missing (a
        # plan made before its group, or a group lost), to keep this job short.
        if not await groups.group_exists(conn, plan.radius_group):
            await groups.set_plan_group(
                conn,
                plan.radius_group,
                rate_limit=plan.rate_limit,
                shared_devices=plan.shared_devices,
                data_quota_bytes=plan.data_quota_bytes,
                interim_interval_s=settings.radius.interim_interval_s,
            )
        await users.set_user(
            conn,
            sub.username,
            sub.password,
            group=plan.radius_group,
            expires_at=to_datetime(expires_at),
        )
        await subscriptions.activate_subscription(
            conn, sub.id, starts_at=starts_at, expires_at=expires_at
        )
        event = await record_event(
            conn,
            "HotspotUserCreated",
            tenant_id=sub.tenant_id,
            subject=f"subscription:{sub.id}",
            payload={
                "subscription_id": sub.id,
                "customer_id": sub.customer_id,
                "plan_id": plan.id,
                "username": sub.username,
                "expires_at": expires_at,
            },
        )
    await publish_event(ctx["redis"], settings.redis.key_prefix, event)
    logger.info("provisioned subscription %d until %d", sub.id, expires_at)
    return {"subscription_id": sub.id, "status": "active", "expires_at": expires_at}
