"""Typed enqueue helpers for the router jobs (sync on demand, kick a session)."""

from __future__ import annotations

from arq.connections import ArqRedis

from hotspotd.settings import Settings
from tasks.queues import queue_name
from tasks.routers import kick_session, sync_router


async def enqueue_sync_router(redis: ArqRedis, settings: Settings, router_id: int) -> str:
    """Queue a sync of one router on the general queue; one at a time per router."""
    job_id = f"sync-router:{router_id}"
    # Refused while the same sync is queued: that is the de-duplication we want.
    await redis.enqueue_job(
        sync_router.__name__,
        router_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "general"),
    )
    return job_id


async def enqueue_kick_session(
    redis: ArqRedis, settings: Settings, router_id: int, username: str, address: str | None
) -> str:
    """Queue a kick on the critical queue (it is access control); one at a time per session."""
    job_id = f"kick:{router_id}:{username}:{address or '*'}"
    await redis.enqueue_job(
        kick_session.__name__,
        router_id,
        username,
        address,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id
