"""Typed enqueue helpers for the management jobs (the portal's only way to start them).

Each helper records the job in the jobs table first (so it survives a Redis
that loses its queue), then enqueues it under the same id. A duplicate
submission (same request key, or same work still queued) gets the existing job.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from typing import Any

from arq.connections import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from hotspotd.db import Database
from hotspotd.passwords import seal_password
from hotspotd.settings import Settings
from hotspotd.store import jobs
from hotspotd.store.admins import Actor, Role, Status
from hotspotd.store.jobs import JobRecord
from tasks import management
from tasks.queues import queue_name

logger = logging.getLogger(__name__)

KINDS = {job.__name__: job for job in management.MANAGEMENT_JOBS}


async def enqueue_recorded_job(redis: ArqRedis, settings: Settings, job: JobRecord) -> bool:
    """Enqueue a recorded job under its id; False when arq already holds that id."""
    if job.kind not in KINDS:
        raise ValueError(f"unknown job kind {job.kind!r}")
    queued = await redis.enqueue_job(
        job.kind,
        _job_id=job.id,
        _queue_name=queue_name(settings.redis.key_prefix, "management"),
        **job.args,
    )
    return queued is not None


class _Submitter:
    """Group commit: requests arriving while a batch is being written go in the next batch.

    One SQLite transaction and one Redis pipeline per batch instead of per job:
    under concurrent load this is what keeps the 202 fast (each await into
    aiosqlite or Redis has a fixed cost, and the write lock serialises them).
    """

    MAX_BATCH = 256

    def __init__(self, db: Database, redis: ArqRedis, settings: Settings):
        self._db = db
        self._redis = redis
        self._settings = settings
        self._pending: list[tuple[jobs.NewJob, asyncio.Future[tuple[JobRecord, bool]]]] = []
        self._flushing = False

    async def submit(self, job: jobs.NewJob) -> tuple[JobRecord, bool]:
        future: asyncio.Future[tuple[JobRecord, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: self.MAX_BATCH]
                try:
                    results = await jobs.insert_jobs(self._db, [job for job, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                created = [record for record, new in results if new]
                if created:
                    try:
                        await _enqueue_new(self._redis, self._settings, created)
                    except (RedisError, OSError) as exc:
                        # Recorded in SQLite: the reconciler enqueues them once Redis is back.
                        logger.warning("%d jobs recorded but not queued: %s", len(created), exc)
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False


_SUBMITTERS: weakref.WeakKeyDictionary[Database, _Submitter] = weakref.WeakKeyDictionary()


async def _enqueue_new(redis: ArqRedis, settings: Settings, records: list[JobRecord]) -> None:
    """Put freshly recorded jobs on the queue in one pipeline, as arq's enqueue_job would.

    Their ids are new random ones, so arq's check that no job holds the id (a
    WATCH and two more round trips per job) cannot fail and is skipped.
    """
    queue = queue_name(settings.redis.key_prefix, "management")
    now_ms = timestamp_ms()
    async with redis.pipeline(transaction=True) as pipe:
        for record in records:
            payload = serialize_job(
                record.kind, (), record.args, None, now_ms, serializer=redis.job_serializer
            )
            pipe.psetex(job_key_prefix + record.id, redis.expires_extra_ms, payload)
            pipe.zadd(queue, {record.id: now_ms})
        await pipe.execute()


async def _submit(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    kind: str,
    args: dict[str, Any],
    *,
    tenant_id: int | None,
    actor_id: int | None,
    subject: str,
    dedupe_key: str | None = None,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    submitter = _SUBMITTERS.get(db)
    if submitter is None or submitter._redis is not redis:
        submitter = _SUBMITTERS[db] = _Submitter(db, redis, settings)
    return await submitter.submit(
        jobs.NewJob(
            id=uuid.uuid4().hex,
            kind=kind,
            args=args,
            tenant_id=tenant_id,
            actor_id=actor_id,
            subject=subject,
            dedupe_key=dedupe_key,
            request_key=scoped_request_key(actor_id, request_key),
        )
    )


def scoped_request_key(actor_id: int | None, key: str | None) -> str | None:
    """Return the stored form of a client's idempotency key (one namespace per actor)."""
    return f"{actor_id or 'anon'}:{key}" if key else None


async def replayed_job(db: Database, actor_id: int | None, key: str | None) -> JobRecord | None:
    """Return the job an earlier identical request (same idempotency key) started, if any."""
    stored = scoped_request_key(actor_id, key)
    return await jobs.get_job_by_request_key(db, stored) if stored else None


def _seal(settings: Settings, password: str) -> str:
    return seal_password(password, settings.portal.session_secret.get_secret_value())


async def enqueue_create_tenant(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor | None,
    slug: str,
    name: str,
    admin_username: str,
    password: str,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Queue creation of a tenant and its first admin (registration or a system admin)."""
    return await _submit(
        db,
        redis,
        settings,
        management.create_tenant.__name__,
        {
            "slug": slug,
            "name": name,
            "admin_username": admin_username,
            "sealed_password": _seal(settings, password),
        },
        tenant_id=None,
        actor_id=actor.admin_id if actor else None,
        subject=f"tenant {slug}",
        dedupe_key=f"tenant:{slug.lower()}",
        request_key=request_key,
    )


async def enqueue_create_admin_user(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor,
    tenant_id: int | None,
    username: str,
    role: Role,
    password: str,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Queue creation of an admin user (a system admin, or a tenant's admin/staff)."""
    return await _submit(
        db,
        redis,
        settings,
        management.create_admin_user.__name__,
        {
            "actor_id": actor.admin_id,
            "tenant_id": tenant_id,
            "username": username,
            "role": role,
            "sealed_password": _seal(settings, password),
        },
        tenant_id=tenant_id,
        actor_id=actor.admin_id,
        subject=f"user {username}",
        dedupe_key=f"admin:{username.lower()}",
        request_key=request_key,
    )


async def enqueue_update_admin_user(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor,
    tenant_id: int | None,
    admin_id: int,
    username: str,
    role: Role | None = None,
    status: Status | None = None,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Queue a change of a user's role or status."""
    return await _submit(
        db,
        redis,
        settings,
        management.update_admin_user.__name__,
        {"actor_id": actor.admin_id, "admin_id": admin_id, "role": role, "status": status},
        tenant_id=tenant_id,
        actor_id=actor.admin_id,
        subject=f"user {username}",
        request_key=request_key,
    )


async def enqueue_delete_admin_user(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor,
    tenant_id: int | None,
    admin_id: int,
    username: str,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Queue deletion of a user."""
    return await _submit(
        db,
        redis,
        settings,
        management.delete_admin_user.__name__,
        {"actor_id": actor.admin_id, "admin_id": admin_id},
        tenant_id=tenant_id,
        actor_id=actor.admin_id,
        subject=f"user {username}",
        dedupe_key=f"delete-admin:{admin_id}",
        request_key=request_key,
    )


async def enqueue_update_password(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor,
    password: str,
    keep_session: str | None,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Queue a change of the actor's own password (its other sessions end)."""
    return await _submit(
        db,
        redis,
        settings,
        management.update_password.__name__,
        {
            "admin_id": actor.admin_id,
            "sealed_password": _seal(settings, password),
            "keep_session": keep_session,
        },
        tenant_id=actor.tenant_id,
        actor_id=actor.admin_id,
        subject=f"password of {actor.username}",
        request_key=request_key,
    )


async def enqueue_track_failed_login(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    username: str,
    address: str | None,
    reason: str,
    at: int,
    tenant_id: int | None,
    admin_id: int | None,
) -> JobRecord:
    """Queue the audit record of a failed sign-in."""
    record, _ = await _submit(
        db,
        redis,
        settings,
        management.track_failed_login.__name__,
        {"username": username[:100], "address": address, "reason": reason, "at": at},
        tenant_id=tenant_id,
        actor_id=admin_id,
        subject=f"failed sign-in {username[:40]}",
    )
    return record


async def enqueue_update_login_stats(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    *,
    actor: Actor,
    address: str | None,
    at: int,
) -> JobRecord:
    """Queue the sign-in statistics update of an admin."""
    record, _ = await _submit(
        db,
        redis,
        settings,
        management.update_login_stats.__name__,
        {"admin_id": actor.admin_id, "address": address, "at": at},
        tenant_id=actor.tenant_id,
        actor_id=actor.admin_id,
        subject=f"sign-in {actor.username}",
    )
    return record
