"""Typed enqueue helpers for the subscription jobs (reconnect/extend, suspend, resume)."""

from __future__ import annotations

from arq.connections import ArqRedis

from hotspotd.settings import Settings
from tasks.queues import queue_name
from tasks.subscriptions_jobs import reconnect_subscription, resume_account, suspend_account


async def enqueue_reconnect_subscription(
    redis: ArqRedis,
    settings: Settings,
    subscription_id: int,
    *,
    base_expires_at: int | None,
    extend_s: int | None = None,
    plan_id: int | None = None,
    renewal_key: str | None = None,
) -> str:
    """Queue a renewal (extend_s None: the plan's validity).

    Without a key (an admin's action) it applies only while the expiry is still
    ``base_expires_at``, and the id names that expiry, so a double submit runs once. With a
    ``renewal_key`` (a payment id) it applies once per key, whatever the expiry is by then.
    """
    if renewal_key is not None:
        job_id = f"reconnect:{subscription_id}:key:{renewal_key}"
    else:
        job_id = f"reconnect:{subscription_id}:{base_expires_at}"
    await redis.enqueue_job(
        reconnect_subscription.__name__,
        subscription_id,
        base_expires_at,
        extend_s,
        plan_id,
        renewal_key,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id


async def enqueue_suspend_account(redis: ArqRedis, settings: Settings, subscription_id: int) -> str:
    """Queue a suspension (disable in RADIUS and disconnect)."""
    job_id = f"suspend:{subscription_id}"
    await redis.enqueue_job(
        suspend_account.__name__,
        subscription_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id


async def enqueue_resume_account(redis: ArqRedis, settings: Settings, subscription_id: int) -> str:
    """Queue lifting a suspension."""
    job_id = f"resume:{subscription_id}"
    await redis.enqueue_job(
        resume_account.__name__,
        subscription_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id
