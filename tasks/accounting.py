"""Jobs on the RADIUS accounting records."""

from __future__ import annotations

import logging
from typing import Any

from radius.accounting import close_stale_sessions
from tasks.context import job_db, job_settings

logger = logging.getLogger(__name__)

# An open session with no Interim-Update for this many intervals lost its Stop
# (router rebooted). Open rows count towards Simultaneous-Use, so close them.
STALE_INTERVALS = 3


async def close_lost_sessions(ctx: dict[str, Any]) -> int:
    """Close radacct sessions whose router stopped reporting them."""
    settings = job_settings(ctx)
    async with job_db(ctx).transaction() as conn:
        closed = await close_stale_sessions(
            conn, stale_after_s=STALE_INTERVALS * settings.radius.interim_interval_s
        )
    if closed:
        logger.info("closed %d stale accounting sessions", closed)
    return closed
