"""Typed enqueue helpers: the only way the portal reaches the worker."""

from __future__ import annotations

from arq.connections import ArqRedis

from hotspotd.settings import Settings
from tasks.plan_jobs import push_plan_limits
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


async def enqueue_push_plan_limits(redis: ArqRedis, settings: Settings, plan_id: int) -> str:
    """Queue sending a plan's rate limit to its live sessions by CoA; returns the job id."""
    job_id = f"plan-limits:{plan_id}"
    # While one push is queued a second one is refused: the queued job reads the latest plan.
    await redis.enqueue_job(
        push_plan_limits.__name__,
        plan_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id
