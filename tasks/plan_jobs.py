"""Push a plan's new rate limit to the customers online on it (CoA), after an edit."""

from __future__ import annotations

import logging
from typing import Any

from hotspotd.db import Database
from hotspotd.events import Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import plans
from hotspotd.store.errors import NotFound
from radius import accounting
from tasks.context import job_db, job_settings
from tasks.subscriptions_jobs import update_live_sessions

logger = logging.getLogger(__name__)


async def push_plan_limits_now(
    db: Database, settings: Settings, plan_id: int, publisher: Publisher | None = None
) -> dict[str, Any]:
    """Send the plan's current rate limit by CoA to every live session in its group."""
    try:
        # The worker acts for the box: no tenant scope (None).
        plan = await plans.get_plan_scoped(db, None, plan_id)
    except NotFound:
        return {"plan_id": plan_id, "status": "missing"}
    if plan.rate_limit is None:
        # CoA cannot take a limit away; sessions lose it at their next login.
        return {"plan_id": plan_id, "status": "no rate limit", "updated": 0, "failed": 0}
    updated = failed = 0
    for username in await accounting.online_group_members(db, plan.radius_group):
        results = await update_live_sessions(
            db, settings, username, {"Mikrotik-Rate-Limit": plan.rate_limit}
        )
        updated += sum(1 for r in results if r.updated)
        failed += sum(1 for r in results if not r.updated)
    async with db.transaction() as conn:
        event = await record_event(
            conn,
            "PlanLimitsPushed",
            tenant_id=plan.tenant_id,
            subject=f"plan:{plan.id}",
            payload={
                "plan_id": plan.id,
                "rate_limit": plan.rate_limit,
                "updated": updated,
                "failed": failed,
            },
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    logger.info("plan %d: new rate limit sent to %d sessions (%d failed)", plan.id, updated, failed)
    return {"plan_id": plan.id, "status": "done", "updated": updated, "failed": failed}


async def push_plan_limits(ctx: dict[str, Any], plan_id: int) -> dict[str, Any]:
    """Job: push a plan's rate limit to its live sessions."""
    return await push_plan_limits_now(job_db(ctx), job_settings(ctx), plan_id, ctx["redis"])
