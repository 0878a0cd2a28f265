"""Expiry that always cuts off: the critical cron that ends subscriptions, and its reconciler.

Expiry is enforced three times (DESIGN.md): FreeRADIUS's ``Expiration`` check item, the
router's Session-Timeout, and this cron, which disables the RADIUS user and disconnects live
sessions at expiry. The reconciler repairs what a crash between those steps left behind.

The service functions take the database and settings so tests call them without a worker;
the job functions at the bottom only unpack ``ctx``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiosqlite

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import plans, subscriptions
from hotspotd.store import routers as router_store
from hotspotd.store.errors import NotFound
from hotspotd.store.subscriptions import Subscription
from hotspotd.timeutil import now_s, to_datetime
from radius import accounting, groups, users
from radius import vouchers as radius_vouchers
from tasks.context import job_db, job_settings
from tasks.routers import KickResult, kick_router_session

logger = logging.getLogger(__name__)

# Subscriptions ended at most this long ago still get their live sessions retried and their
# RADIUS rows checked by the reconciler; older ones were settled long ago.
REPAIR_WINDOW_S = 7 * 24 * 3600
# Kicks of an ended subscription's sessions are retried for this long (the router's own
# Session-Timeout cuts an expired user anyway; this bounds the retries at a dead router).
KICK_RETRY_WINDOW_S = 3600
# Subscriptions expired per transaction (short write locks: FreeRADIUS reads the same file).
EXPIRY_BATCH = 500
# One run expires batches for at most this long (the cron ticks every 10 s); the next tick
# takes the rest.
EXPIRY_BUDGET_S = 8.0


async def end_live_sessions(
    db: Database,
    settings: Settings,
    username: str,
    publisher: Publisher | None = None,
) -> list[KickResult]:
    """Disconnect every open session of a user on the router that reported it.

    Uses the router kick (Disconnect-Request with User-Name + Framed-IP-Address +
    Acct-Session-Id, then removal over the RouterOS API on NAK or no answer).
    """
    rows = await accounting.open_sessions(db, username)
    if not rows:
        return []
    router_ids = {
        access.router.nas_ip: access.router.id
        for access in await router_store.list_routers_for_worker(db)
    }
    results: list[KickResult] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if (row.nas_ip, row.framed_ip) in seen:
            continue
        seen.add((row.nas_ip, row.framed_ip))
        router_id = router_ids.get(row.nas_ip)
        if router_id is None:
            logger.warning("session of %s is on unregistered NAS %s", username, row.nas_ip)
            continue
        try:
            result = await kick_router_session(
                db, settings, router_id, username, row.framed_ip or None, publisher
            )
        except NotFound:  # router deleted meanwhile
            continue
        results.append(result)
    return results


async def _end_sessions_of(
    db: Database, settings: Settings, subs: list[Subscription], publisher: Publisher | None
) -> int:
    # Routers answer in parallel: a batch expiring at midnight must not wait out each
    # unreachable router's timeouts one after another.
    limit = asyncio.Semaphore(settings.routers.sync_concurrency)

    async def one(sub: Subscription) -> int:
        async with limit:
            try:
                results = await end_live_sessions(db, settings, sub.username, publisher)
            except Exception:  # one bad session must not stop the others
                logger.exception("could not end the sessions of subscription %d", sub.id)
                return 0
            return sum(r.kicked for r in results)

    return sum(await asyncio.gather(*(one(sub) for sub in subs)))


async def expire_due_subscriptions(
    db: Database,
    settings: Settings,
    publisher: Publisher | None = None,
    *,
    now: int | None = None,
) -> dict[str, int]:
    """Expire active subscriptions past their expiry: disable, record, disconnect.

    All due subscriptions lose RADIUS access first (batches of EXPIRY_BATCH, within
    EXPIRY_BUDGET_S), then their live sessions are disconnected in parallel.
    """
    current = now_s() if now is None else now
    deadline = time.monotonic() + EXPIRY_BUDGET_S
    expired: list[Subscription] = []
    events: list[Event] = []
    while True:
        due = await subscriptions.list_due_expiries(db, now=current, limit=EXPIRY_BATCH)
        batch_expired = await _expire_batch(db, due, current, events)
        expired.extend(batch_expired)
        # Nothing expired: the rest (if any) changed under us; the next tick looks again.
        if len(due) < EXPIRY_BATCH or not batch_expired or time.monotonic() > deadline:
            break
    if publisher is not None:
        for event in events:
            await publish_event(publisher, settings.redis.key_prefix, event)
    kicked = await _end_sessions_of(db, settings, expired, publisher) if expired else 0
    if expired:
        logger.info("expired %d subscriptions, disconnected %d sessions", len(expired), kicked)
    vouchers_kicked = await _end_used_vouchers(db, settings, publisher, now=current)
    return {"expired": len(expired), "kicked": kicked, "vouchers_kicked": vouchers_kicked}


async def _expire_batch(
    db: Database, due: list[Subscription], now: int, events: list[Event]
) -> list[Subscription]:
    expired: list[Subscription] = []
    if not due:
        return expired
    async with db.transaction() as conn:
        for sub in due:
            # Conditional: a concurrent run or a renewal that won the race leaves it alone.
            if not await subscriptions.expire_subscription(conn, sub.id, now=now):
                continue
            await users.disable_user(conn, sub.username)
            events.append(
                await record_event(
                    conn,
                    "AccountSuspended",
                    tenant_id=sub.tenant_id,
                    subject=f"subscription:{sub.id}",
                    payload={
                        "subscription_id": sub.id,
                        "customer_id": sub.customer_id,
                        "username": sub.username,
                        "reason": "expired",
                        "expires_at": sub.expires_at,
                    },
                )
            )
            expired.append(sub)
    return expired


async def _end_used_vouchers(
    db: Database, settings: Settings, publisher: Publisher | None, *, now: int
) -> int:
    # Vouchers (validity from the first login) have no subscription row: find their sessions
    # that outlived the validity in RADIUS's own tables.
    usernames = await radius_vouchers.users_past_first_login_validity(
        db, now=now, updated_since=now - 3 * settings.radius.interim_interval_s
    )
    kicked = 0
    for username in usernames:
        try:
            results = await end_live_sessions(db, settings, username, publisher)
        except Exception:  # one bad session must not stop the others
            logger.exception("could not end the sessions of voucher user")
            continue
        kicked += sum(r.kicked for r in results)
    if kicked:
        logger.info("disconnected %d sessions of used-up vouchers", kicked)
    return kicked


async def reconcile_subscription_radius(
    db: Database,
    settings: Settings,
    publisher: Publisher | None = None,
    *,
    now: int | None = None,
) -> dict[str, int]:
    """Make every subscription's RADIUS rows agree with its state; retry lost disconnects."""
    current = now_s() if now is None else now
    repaired = 0
    for state in await subscriptions.list_radius_states(db, ended_since=current - REPAIR_WINDOW_S):
        if state.status == "active":
            if state.expires_at is None or state.expires_at <= current:
                continue  # the expiry cron's work
            expected = users.format_expiration(to_datetime(state.expires_at))
            if state.has_password and not state.rejected and state.expiration == expected:
                continue
            repaired += await _restore_active(db, settings, state.subscription_id)
        elif state.status in ("expired", "suspended"):
            if not state.has_password or state.rejected:
                continue
            async with db.transaction() as conn:
                sub = await subscriptions.get_subscription_in(conn, state.subscription_id)
                if sub.status in ("expired", "suspended"):
                    await users.disable_user(conn, sub.username)
                    repaired += 1
    ended = await subscriptions.list_ended_with_open_sessions(
        db, updated_since=current - KICK_RETRY_WINDOW_S
    )
    ended = [sub for sub in ended if sub.updated_at >= current - KICK_RETRY_WINDOW_S]
    kicked = await _end_sessions_of(db, settings, ended, publisher) if ended else 0
    if repaired or kicked:
        logger.warning(
            "reconciler repaired RADIUS rows of %d subscriptions, disconnected %d sessions",
            repaired,
            kicked,
        )
    return {"repaired": repaired, "kicked": kicked}


async def _restore_active(db: Database, settings: Settings, subscription_id: int) -> int:
    async with db.transaction() as conn:
        sub = await subscriptions.get_subscription_in(conn, subscription_id)
        if sub.status != "active" or sub.expires_at is None or sub.expires_at <= now_s():
            return 0
        plan = await plans.get_plan(conn, sub.tenant_id, sub.plan_id)
        await ensure_plan_group(conn, settings, plan)
        await users.set_user(
            conn,
            sub.username,
            sub.password,
            group=plan.radius_group,
            expires_at=to_datetime(sub.expires_at),
        )
    return 1


async def ensure_plan_group(
    conn: aiosqlite.Connection, settings: Settings, plan: plans.Plan
) -> None:
    """Create the plan's RADIUS group if it is missing (plan edits rewrite it)."""
    if not await groups.group_exists(conn, plan.radius_group):
        await groups.set_plan_group(
            conn,
            plan.radius_group,
            rate_limit=plan.rate_limit,
            shared_devices=plan.shared_devices,
            data_quota_bytes=plan.data_quota_bytes,
            interim_interval_s=settings.radius.interim_interval_s,
        )


# -- jobs -------------------------------------------------------------------------------------


async def expire_subscriptions(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron (critical, every 10 s): expire due subscriptions and disconnect their sessions."""
    return await expire_due_subscriptions(job_db(ctx), job_settings(ctx), ctx["redis"])


async def reconcile_subscriptions(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron (critical): repair RADIUS rows and disconnects a crash left undone."""
    return await reconcile_subscription_radius(job_db(ctx), job_settings(ctx), ctx["redis"])
