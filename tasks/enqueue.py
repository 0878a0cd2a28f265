"""Typed enqueue helpers: the only way the portal reaches the worker."""

from __future__ import annotations

from arq.connections import ArqRedis

from hotspotd.settings import Settings
from tasks.provisioning import provision_hotspot_user
from tasks.queues import queue_name


async def enqueue_provision_hotspot_user(
    redis: ArqRedis, settings: Settings, subscription_id: int
) -> str:
    """Queue activation of a pending subscription; returns the (deterministic) job id."""
    job_id = f"provision:{subscription_id}"
    # A duplicate id is refused while the job is queued or its result kept:
    # that is the de-duplication we want, so the refusal is not an error.
    await redis.enqueue_job(
        provision_hotspot_user.__name__,
        subscription_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id
