"""Typed enqueue helpers for the voucher jobs."""

from __future__ import annotations

from arq.connections import ArqRedis

from hotspotd.settings import Settings
from tasks.queues import queue_name
from tasks.vouchers import generate_vouchers, revoke_voucher


async def enqueue_generate_vouchers(redis: ArqRedis, settings: Settings, batch_id: int) -> str:
    """Queue generation of a recorded batch (general queue); one job per batch."""
    job_id = f"vouchers:{batch_id}"
    await redis.enqueue_job(
        generate_vouchers.__name__,
        batch_id,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "general"),
    )
    return job_id


async def enqueue_revoke_voucher(redis: ArqRedis, settings: Settings, code: str) -> str:
    """Queue revocation of a voucher (critical queue: it is access control)."""
    job_id = f"revoke-voucher:{code}"
    await redis.enqueue_job(
        revoke_voucher.__name__,
        code,
        _job_id=job_id,
        _queue_name=queue_name(settings.redis.key_prefix, "critical"),
    )
    return job_id
