"""Cron jobs that find work recorded in SQLite but not finished, and enqueue it again.

Redis may lose its queue (a restart without persistence); SQLite is the record.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis

from hotspotd.store import subscriptions
from tasks.context import job_db, job_settings
from tasks.enqueue import enqueue_provision_hotspot_user

logger = logging.getLogger(__name__)

# A pending subscription older than this without its job running is re-enqueued.
PENDING_GRACE_S = 30


async def reconcile_pending_subscriptions(ctx: dict[str, Any]) -> int:
    """Re-enqueue provisioning of subscriptions left pending (a lost queue, a crash)."""
    db = job_db(ctx)
    settings = job_settings(ctx)
    redis: ArqRedis = ctx["redis"]
    ids = await subscriptions.list_pending_subscription_ids(db, older_than_s=PENDING_GRACE_S)
    for subscription_id in ids:
        await enqueue_provision_hotspot_user(redis, settings, subscription_id)
    if ids:
        logger.warning("re-enqueued provisioning of %d pending subscriptions", len(ids))
    return len(ids)
