"""Management jobs: tenants, admin users, passwords, sign-in records.

Every job has a row in the jobs table (written by the enqueue helper before
the job is queued). The job marks it running, and its final state commits in
the same transaction as its change and its event, so a re-run (arq delivers at
least once) sees 'done' and does nothing. A failure the user must know about
(name taken, tenant gone) marks the row failed and publishes JobFailed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec

from arq.worker import Retry

from hotspotd.events import Event, publish_event, record_event
from hotspotd.passwords import SealError, hash_password, unseal_password
from hotspotd.store import admins, jobs, tenants
from hotspotd.store.admins import Actor, Role
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.store.jobs import JobRecord
from hotspotd.timeutil import now_s
from tasks.context import job_db, job_settings
from tasks.retry import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)

P = ParamSpec("P")
JobBody = Callable[Concatenate[dict[str, Any], JobRecord, P], Awaitable[dict[str, Any]]]
JobFunc = Callable[Concatenate[dict[str, Any], P], Awaitable[dict[str, Any]]]

# A sealed password in a job's arguments stays usable this long (a retry from
# the jobs page, a re-enqueue after Redis lost its queue); then: submit again.
SEAL_MAX_AGE_S = 3 * 86400


# scrypt saturates a core for tens of milliseconds per password: hash one at a
# time, so a burst of user creations leaves the other core to the portal.
_HASHING = asyncio.Semaphore(1)


class JobFailed(Exception):
    """The job cannot do its work; the message is shown to the user."""


async def _publish(ctx: dict[str, Any], event: Event) -> None:
    await publish_event(ctx["redis"], job_settings(ctx).redis.key_prefix, event)


async def _fail(ctx: dict[str, Any], job: JobRecord, reason: str) -> dict[str, Any]:
    async with job_db(ctx).transaction() as conn:
        failed = await jobs.fail_job(conn, job.id, reason)
        event = None
        if failed is not None:
            event = await record_event(
                conn,
                "JobFailed",
                tenant_id=job.tenant_id,
                subject=f"job:{job.id}",
                payload={
                    "job_id": job.id,
                    "kind": job.kind,
                    "subject": job.subject,
                    "error": reason,
                },
            )
    if event is not None:
        await _publish(ctx, event)
    logger.info("job %s (%s) failed: %s", job.id, job.kind, reason)
    return {"state": "failed", "error": reason}


def tracked(body: JobBody[P]) -> JobFunc[P]:
    """Run a job body with its jobs-table row: running, done/failed, retries with backoff."""

    async def run(ctx: dict[str, Any], /, *args: P.args, **kwargs: P.kwargs) -> dict[str, Any]:
        db = job_db(ctx)
        job_id = str(ctx["job_id"])
        job = await jobs.start_job(db, job_id)
        if job is None:
            # Done or failed already (a re-run), or never recorded: nothing to do.
            return {"state": "skipped"}
        try:
            return await body(ctx, job, *args, **kwargs)
        except JobFailed as exc:
            return await _fail(ctx, job, str(exc))
        except TRANSIENT_ERRORS as exc:
            settings = job_settings(ctx)
            try_ = int(ctx.get("job_try", 1))
            reason = f"{type(exc).__name__}: {exc}"
            if try_ >= settings.worker.max_tries:
                return await _fail(ctx, job, f"gave up after {try_} tries: {reason}")
            logger.warning("job %s (%s) try %d: %s; retrying", job.id, job.kind, try_, reason)
            await jobs.note_retry(db, job.id, reason)
            raise Retry(defer=settings.worker.retry_backoff_s * try_) from exc
        except Exception as exc:
            logger.exception("job %s (%s) crashed", job.id, job.kind)
            return await _fail(ctx, job, f"internal error ({type(exc).__name__})")

    # arq registers a job under its __qualname__: keep the body's name.
    run.__name__ = body.__name__
    run.__qualname__ = body.__qualname__
    run.__doc__ = body.__doc__
    return run


async def _hash(ctx: dict[str, Any], sealed_password: str) -> str:
    settings = job_settings(ctx)
    try:
        password = unseal_password(
            sealed_password,
            settings.portal.session_secret.get_secret_value(),
            max_age_s=SEAL_MAX_AGE_S,
        )
    except SealError:
        raise JobFailed("the password has expired; submit the form again") from None
    # scrypt is CPU-heavy by design: keep the worker's event loop free meanwhile.
    async with _HASHING:
        return await asyncio.to_thread(hash_password, password, n=settings.auth.password_scrypt_n)


async def _acting(conn: Any, actor_id: int | None, *roles: Role) -> Actor:
    """Re-read the acting admin: it may have been deleted, disabled or demoted meanwhile."""
    if actor_id is None:
        raise JobFailed("no acting admin")
    try:
        admin = await admins.get_admin_in(conn, actor_id)
    except NotFound:
        raise JobFailed("your account no longer exists") from None
    if admin.status != "active" or (roles and admin.role not in roles):
        raise JobFailed("your account may no longer do this")
    return admin.actor()


async def _finish(conn: Any, job: JobRecord, result: dict[str, Any]) -> dict[str, Any]:
    if not await jobs.finish_job(conn, job.id, result):
        # Lost a race with another run of the same job: undo this one.
        raise JobFailed("the job was finished by another run")
    return result


@tracked
async def create_tenant(
    ctx: dict[str, Any],
    job: JobRecord,
    *,
    slug: str,
    name: str,
    admin_username: str,
    sealed_password: str,
    timezone: str = "Africa/Nairobi",
    currency: str = "KES",
) -> dict[str, Any]:
    """Create a tenant and its first admin in one transaction; emit TenantCreated."""
    password_hash = await _hash(ctx, sealed_password)
    async with job_db(ctx).transaction() as conn:
        if job.actor_id is not None:
            await _acting(conn, job.actor_id, "system")
        try:
            tenant = await tenants.create_tenant(
                conn, slug=slug, name=name, timezone=timezone, currency=currency
            )
            admin = await admins.create_admin(
                conn,
                tenant_id=tenant.id,
                username=admin_username,
                password_hash=password_hash,
                role="admin",
            )
        except Conflict as exc:
            raise JobFailed(str(exc)) from None
        await conn.execute("UPDATE jobs SET tenant_id = ? WHERE id = ?", (tenant.id, job.id))
        event = await record_event(
            conn,
            "TenantCreated",
            tenant_id=tenant.id,
            subject=f"tenant:{tenant.id}",
            payload={
                "job_id": job.id,
                "tenant_id": tenant.id,
                "slug": tenant.slug,
                "name": tenant.name,
                "admin_id": admin.id,
                "admin_username": admin.username,
            },
        )
        result = await _finish(conn, job, {"tenant_id": tenant.id, "admin_id": admin.id})
    await _publish(ctx, event)
    return result


@tracked
async def create_admin_user(
    ctx: dict[str, Any],
    job: JobRecord,
    *,
    actor_id: int,
    tenant_id: int | None,
    username: str,
    role: Role,
    sealed_password: str,
) -> dict[str, Any]:
    """Create a system admin or a tenant's admin/staff user; emit UserCreated."""
    password_hash = await _hash(ctx, sealed_password)
    async with job_db(ctx).transaction() as conn:
        actor = await _acting(conn, actor_id, "system", "admin")
        if not actor.can_access(tenant_id) or (role == "system" and not actor.is_system):
            raise JobFailed("not allowed to create this user")
        try:
            admin = await admins.create_admin(
                conn, tenant_id=tenant_id, username=username, password_hash=password_hash, role=role
            )
        except NotFound:
            raise JobFailed("the tenant no longer exists") from None
        except Conflict as exc:
            raise JobFailed(str(exc)) from None
        event = await record_event(
            conn,
            "UserCreated",
            tenant_id=tenant_id,
            subject=f"admin:{admin.id}",
            payload={
                "job_id": job.id,
                "admin_id": admin.id,
                "username": admin.username,
                "role": admin.role,
                "tenant_id": tenant_id,
                "by": actor.admin_id,
            },
        )
        result = await _finish(conn, job, {"admin_id": admin.id})
    await _publish(ctx, event)
    return result


@tracked
async def update_admin_user(
    ctx: dict[str, Any],
    job: JobRecord,
    *,
    actor_id: int,
    admin_id: int,
    role: Role | None = None,
    status: admins.Status | None = None,
) -> dict[str, Any]:
    """Change a user's role or status (disabling ends its sessions); emit UserUpdated."""
    async with job_db(ctx).transaction() as conn:
        actor = await _acting(conn, actor_id, "system", "admin")
        try:
            target = await admins.get_admin_in(conn, admin_id)
        except NotFound:
            raise JobFailed("the user no longer exists") from None
        if not actor.can_access(target.tenant_id):
            raise JobFailed("the user no longer exists")
        if role is not None and (role == "system") != (target.role == "system"):
            raise JobFailed("a system admin cannot become a tenant user or the other way round")
        updated = await admins.update_admin(conn, actor, admin_id, role=role, status=status)
        event = await record_event(
            conn,
            "UserUpdated",
            tenant_id=updated.tenant_id,
            subject=f"admin:{updated.id}",
            payload={
                "job_id": job.id,
                "admin_id": updated.id,
                "username": updated.username,
                "role": updated.role,
                "status": updated.status,
                "by": actor.admin_id,
            },
        )
        result = await _finish(conn, job, {"admin_id": updated.id})
    await _publish(ctx, event)
    return result


@tracked
async def delete_admin_user(
    ctx: dict[str, Any], job: JobRecord, *, actor_id: int, admin_id: int
) -> dict[str, Any]:
    """Delete a user and its sessions; emit UserDeleted."""
    async with job_db(ctx).transaction() as conn:
        actor = await _acting(conn, actor_id, "system", "admin")
        try:
            deleted = await admins.delete_admin(conn, actor, admin_id)
        except NotFound:
            raise JobFailed("the user no longer exists") from None
        event = await record_event(
            conn,
            "UserDeleted",
            tenant_id=deleted.tenant_id,
            subject=f"admin:{deleted.id}",
            payload={
                "job_id": job.id,
                "admin_id": deleted.id,
                "username": deleted.username,
                "by": actor.admin_id,
            },
        )
        result = await _finish(conn, job, {"admin_id": deleted.id})
    await _publish(ctx, event)
    return result


@tracked
async def update_password(
    ctx: dict[str, Any],
    job: JobRecord,
    *,
    admin_id: int,
    sealed_password: str,
    keep_session: str | None = None,
) -> dict[str, Any]:
    """Store a user's new password and end its other sessions; emit PasswordChanged."""
    password_hash = await _hash(ctx, sealed_password)
    async with job_db(ctx).transaction() as conn:
        try:
            admin = await admins.get_admin_in(conn, admin_id)
            ended = await admins.set_password(
                conn, admin_id, password_hash, keep_session=keep_session
            )
        except NotFound:
            raise JobFailed("the user no longer exists") from None
        event = await record_event(
            conn,
            "PasswordChanged",
            tenant_id=admin.tenant_id,
            subject=f"admin:{admin.id}",
            payload={
                "job_id": job.id,
                "admin_id": admin.id,
                "username": admin.username,
                "sessions_ended": ended,
            },
        )
        result = await _finish(conn, job, {"sessions_ended": ended})
    await _publish(ctx, event)
    return result


@tracked
async def track_failed_login(
    ctx: dict[str, Any],
    job: JobRecord,
    *,
    username: str,
    address: str | None,
    reason: str,
    at: int,
) -> dict[str, Any]:
    """Record a failed sign-in (audit); the lockout counter itself lives in Redis."""
    async with job_db(ctx).transaction() as conn:
        admin = await admins.record_login_failure(
            conn, username, address=address, reason=reason, at=at
        )
        event = None
        if admin is not None:
            event = await record_event(
                conn,
                "LoginFailed",
                tenant_id=admin.tenant_id,
                subject=f"admin:{admin.id}",
                payload={
                    "job_id": job.id,
                    "admin_id": admin.id,
                    "username": admin.username,
                    "address": address,
                    "reason": reason,
                    "failed_logins": admin.failed_logins,
                },
            )
        await jobs.finish_job(conn, job.id, {"known_user": admin is not None})
    if event is not None:
        await _publish(ctx, event)
    return {"known_user": admin is not None}


@tracked
async def update_login_stats(
    ctx: dict[str, Any], job: JobRecord, *, admin_id: int, address: str | None, at: int
) -> dict[str, Any]:
    """Count a successful sign-in and note when and from where."""
    async with job_db(ctx).transaction() as conn:
        found = await admins.record_login(conn, admin_id, address=address, at=at)
        await jobs.finish_job(conn, job.id, {"recorded": found})
    return {"recorded": found}


async def reconcile_management_jobs(ctx: dict[str, Any]) -> int:
    """Re-enqueue recorded jobs left queued or running too long (Redis lost them, a crash)."""
    from tasks.management_enqueue import enqueue_recorded_job

    db = job_db(ctx)
    settings = job_settings(ctx)
    now = now_s()
    stale = await jobs.list_stale_jobs(
        db,
        queued_before=now - QUEUED_GRACE_S,
        running_before=now - int(settings.worker.job_timeout_s) - QUEUED_GRACE_S,
    )
    requeued = 0
    for job in stale:
        # arq refuses an id it still holds, so a job merely slow is not doubled.
        if await enqueue_recorded_job(ctx["redis"], settings, job):
            requeued += 1
    if requeued:
        logger.warning("re-enqueued %d management jobs found stale in the jobs table", requeued)
    return requeued


QUEUED_GRACE_S = 60

MANAGEMENT_JOBS: tuple[Any, ...] = (
    create_tenant,
    create_admin_user,
    update_admin_user,
    delete_admin_user,
    update_password,
    track_failed_login,
    update_login_stats,
)
