"""Critical jobs on a customer's subscription: reconnect (renew or extend), suspend, resume.

A renewal of a customer who is online changes the live session by CoA (new Session-Timeout and
rate limit) instead of kicking them. Every job is idempotent: renewals are conditional on the
expiry they were computed from, suspension and resumption on the status.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import plans, subscriptions
from hotspotd.store import routers as router_store
from hotspotd.store.errors import NotFound
from hotspotd.timeutil import now_s, to_datetime
from radius import accounting, coa, users
from radius.nas import get_nas
from tasks.context import job_db, job_settings
from tasks.expiry import end_live_sessions, ensure_plan_group

logger = logging.getLogger(__name__)


@dataclass
class LiveUpdate:
    nas_ip: str
    framed_ip: str
    updated: bool
    error: str | None = None


async def update_live_sessions(
    db: Database, settings: Settings, username: str, attributes: dict[str, str | int]
) -> list[LiveUpdate]:
    """Send a CoA-Request with the attributes to every router the user is online on."""
    results: list[LiveUpdate] = []
    known = {access.router.nas_ip for access in await router_store.list_routers_for_worker(db)}
    for row in await accounting.open_sessions(db, username):
        if row.nas_ip not in known:
            continue
        nas_row = await get_nas(db, row.nas_ip)
        if nas_row is None:
            results.append(LiveUpdate(row.nas_ip, row.framed_ip, False, "no RADIUS client entry"))
            continue
        try:
            acked = await coa.change_of_authorization(
                row.nas_ip,
                nas_row.secret,
                user_name=username,
                framed_ip=row.framed_ip or None,
                acct_session_id=row.session_id or None,
                attributes=attributes,
                port=settings.radius.coa_port,
                timeout_s=settings.radius.coa_timeout_s,
                retries=1,
            )
        except coa.CoaError as exc:
            results.append(LiveUpdate(row.nas_ip, row.framed_ip, False, str(exc)))
            continue
        results.append(
            LiveUpdate(row.nas_ip, row.framed_ip, acked, None if acked else "refused (NAK)")
        )
    return results


async def reconnect_subscription_now(
    db: Database,
    settings: Settings,
    subscription_id: int,
    *,
    base_expires_at: int | None,
    extend_s: int | None = None,
    plan_id: int | None = None,
    renewal_key: str | None = None,
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Extend a subscription from the later of now and its expiry, and give access back.

    ``extend_s`` None means the plan's validity (a renewal); ``plan_id`` switches the plan.
    Applied once: with a ``renewal_key`` (a payment id: two payments are two renewals) once per
    key; without one, only while the expiry is still ``base_expires_at`` (an admin's click).
    """
    now = now_s()
    async with db.transaction() as conn:
        try:
            sub = await subscriptions.get_subscription_in(conn, subscription_id)
        except NotFound:
            return {"subscription_id": subscription_id, "status": "missing"}
        if renewal_key is not None:
            if await subscriptions.renewal_applied(conn, sub.tenant_id, sub.id, renewal_key):
                return {"subscription_id": sub.id, "status": sub.status, "applied": False}
            base_expires_at = sub.expires_at
        if sub.status == "pending" or sub.expires_at != base_expires_at:
            # Not provisioned yet, or this renewal (or a concurrent one) already moved it.
            return {"subscription_id": sub.id, "status": sub.status, "applied": False}
        plan = await plans.get_plan(conn, sub.tenant_id, plan_id or sub.plan_id)
        seconds = extend_s if extend_s is not None else plan.validity_s
        if seconds <= 0:
            raise ValueError("extend_s must be positive")
        new_expires_at = max(now, sub.expires_at or now) + seconds
        await subscriptions.extend_subscription(
            conn,
            sub.id,
            base_expires_at=base_expires_at,
            new_expires_at=new_expires_at,
            plan_id=plan.id,
            now=now,
        )
        await ensure_plan_group(conn, settings, plan)
        await users.set_user(
            conn,
            sub.username,
            sub.password,
            group=plan.radius_group,
            expires_at=to_datetime(new_expires_at),
        )
        if sub.status == "suspended":  # a suspension outlives a renewal
            await users.disable_user(conn, sub.username)
        status = "suspended" if sub.status == "suspended" else "active"
        event = await record_event(
            conn,
            "SubscriptionRenewed",
            tenant_id=sub.tenant_id,
            subject=f"subscription:{sub.id}",
            payload={
                "subscription_id": sub.id,
                "customer_id": sub.customer_id,
                "username": sub.username,
                "plan_id": plan.id,
                "previous_expires_at": sub.expires_at,
                "expires_at": new_expires_at,
                "status": status,
                "renewal_key": renewal_key,
            },
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    live: list[LiveUpdate] = []
    if status == "active":
        attributes: dict[str, str | int] = {"Session-Timeout": max(1, new_expires_at - now_s())}
        if plan.rate_limit:
            attributes["Mikrotik-Rate-Limit"] = plan.rate_limit
        live = await update_live_sessions(db, settings, sub.username, attributes)
        for update in live:
            if not update.updated:
                # The session keeps its old limits; the router ends it at its old timeout and
                # the customer logs in again with the new expiry.
                logger.warning(
                    "could not update the live session of %s on %s: %s",
                    sub.username,
                    update.nas_ip,
                    update.error,
                )
    logger.info("subscription %d renewed until %d", sub.id, new_expires_at)
    return {
        "subscription_id": sub.id,
        "status": status,
        "applied": True,
        "expires_at": new_expires_at,
        "live_updates": [asdict(u) for u in live],
    }


async def suspend_subscription_now(
    db: Database,
    settings: Settings,
    subscription_id: int,
    *,
    reason: str = "admin",
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Suspend an active subscription: disable in RADIUS, disconnect, AccountSuspended."""
    async with db.transaction() as conn:
        try:
            sub = await subscriptions.get_subscription_in(conn, subscription_id)
        except NotFound:
            return {"subscription_id": subscription_id, "status": "missing"}
        if not await subscriptions.suspend_subscription(conn, sub.id):
            return {"subscription_id": sub.id, "status": sub.status, "applied": False}
        await users.disable_user(conn, sub.username)
        event: Event = await record_event(
            conn,
            "AccountSuspended",
            tenant_id=sub.tenant_id,
            subject=f"subscription:{sub.id}",
            payload={
                "subscription_id": sub.id,
                "customer_id": sub.customer_id,
                "username": sub.username,
                "reason": reason,
            },
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    kicks = await end_live_sessions(db, settings, sub.username, publisher)
    return {
        "subscription_id": sub.id,
        "status": "suspended",
        "applied": True,
        "kicked": sum(k.kicked for k in kicks),
    }


async def resume_subscription_now(
    db: Database,
    settings: Settings,
    subscription_id: int,
    *,
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Lift a suspension: access again if time is left (else the subscription is expired)."""
    async with db.transaction() as conn:
        try:
            sub = await subscriptions.get_subscription_in(conn, subscription_id)
        except NotFound:
            return {"subscription_id": subscription_id, "status": "missing"}
        status = await subscriptions.resume_subscription(conn, sub.id, now=now_s())
        if status is None:
            return {"subscription_id": sub.id, "status": sub.status, "applied": False}
        if status == "active":
            await users.enable_user(conn, sub.username)
        event = await record_event(
            conn,
            "AccountResumed",
            tenant_id=sub.tenant_id,
            subject=f"subscription:{sub.id}",
            payload={"subscription_id": sub.id, "username": sub.username, "status": status},
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    return {"subscription_id": sub.id, "status": status, "applied": True}


# -- jobs -------------------------------------------------------------------------------------


async def reconnect_subscription(
    ctx: dict[str, Any],
    subscription_id: int,
    base_expires_at: int | None,
    extend_s: int | None = None,
    plan_id: int | None = None,
    renewal_key: str | None = None,
) -> dict[str, Any]:
    """Renew or extend a subscription; update a live session by CoA instead of kicking it."""
    return await reconnect_subscription_now(
        job_db(ctx),
        job_settings(ctx),
        subscription_id,
        base_expires_at=base_expires_at,
        extend_s=extend_s,
        plan_id=plan_id,
        renewal_key=renewal_key,
        publisher=ctx["redis"],
    )


async def suspend_account(ctx: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """Suspend a subscription (admin action) and disconnect its sessions."""
    return await suspend_subscription_now(
        job_db(ctx), job_settings(ctx), subscription_id, publisher=ctx["redis"]
    )


async def resume_account(ctx: dict[str, Any], subscription_id: int) -> dict[str, Any]:
    """Resume a suspended subscription."""
    return await resume_subscription_now(
        job_db(ctx), job_settings(ctx), subscription_id, publisher=ctx["redis"]
    )
