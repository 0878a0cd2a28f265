"""SQL for the record of management jobs: state, error and arguments (for retry).

The job row is written before the job is enqueued and its final state commits
in the same transaction as the job's change, so a re-run sees 'done' and stops.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.store.admins import Actor
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.timeutil import now_s

JobState = Literal["queued", "running", "done", "failed"]


class JobRecord(BaseModel):
    id: str
    kind: str
    tenant_id: int | None
    actor_id: int | None
    subject: str
    args: dict[str, Any]
    state: JobState
    tries: int
    error: str | None
    result: dict[str, Any] | None
    created_at: int
    updated_at: int

    def public(self) -> dict[str, Any]:
        """Return what the status URL shows (no arguments: they may hold sealed secrets)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "subject": self.subject,
            "state": self.state,
            "tries": self.tries,
            "error": self.error,
            "result": self.result,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _job(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    data["args"] = json.loads(data["args"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    data.pop("dedupe_key", None)
    data.pop("request_key", None)
    return JobRecord.model_validate(data)


class NewJob(BaseModel):
    """A job to record before it is enqueued."""

    id: str
    kind: str
    args: dict[str, Any]
    tenant_id: int | None
    actor_id: int | None
    subject: str = ""
    dedupe_key: str | None = None
    request_key: str | None = None


_INSERT = (
    "INSERT INTO jobs (id, kind, tenant_id, actor_id, subject, args, dedupe_key,"
    " request_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING RETURNING *"
)
_EXISTING = (
    "SELECT * FROM jobs WHERE request_key = ?"
    " OR (dedupe_key = ? AND state IN ('queued', 'running')) OR id = ? LIMIT 1"
)


async def insert_jobs(db: Database, new_jobs: list[NewJob]) -> list[tuple[JobRecord, bool]]:
    """Record queued jobs in one transaction; each gets (job, created), a duplicate its twin.

    A duplicate is a job with the same request key, or the same dedupe key still
    queued or running: the caller answers with that job instead of a new one.
    """
    now = now_s()
    results = []
    async with db.transaction() as conn:
        for job in new_jobs:
            # execute_fetchall: one hop into aiosqlite's thread per row.
            rows = list(
                await conn.execute_fetchall(
                    _INSERT,
                    (
                        job.id,
                        job.kind,
                        job.tenant_id,
                        job.actor_id,
                        job.subject,
                        json.dumps(job.args, separators=(",", ":")),
                        job.dedupe_key,
                        job.request_key,
                        now,
                        now,
                    ),
                )
            )
            if rows:
                results.append((_job(rows[0]), True))
                continue
            existing = list(
                await conn.execute_fetchall(_EXISTING, (job.request_key, job.dedupe_key, job.id))
            )
            if not existing:  # pragma: no cover - the conflicting row vanished meanwhile
                raise Conflict("job conflict")
            results.append((_job(existing[0]), False))
    return results


async def insert_job(
    db: Database,
    job_id: str,
    kind: str,
    args: dict[str, Any],
    *,
    tenant_id: int | None,
    actor_id: int | None,
    subject: str = "",
    dedupe_key: str | None = None,
    request_key: str | None = None,
) -> tuple[JobRecord, bool]:
    """Record one queued job; return (job, created) where a duplicate is returned as is."""
    new = NewJob(
        id=job_id,
        kind=kind,
        args=args,
        tenant_id=tenant_id,
        actor_id=actor_id,
        subject=subject,
        dedupe_key=dedupe_key,
        request_key=request_key,
    )
    return (await insert_jobs(db, [new]))[0]


async def get_job(db: Database, job_id: str) -> JobRecord:
    """Return a job by id (unscoped: for the worker and the public registration status)."""
    row = await db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFound(f"job {job_id}")
    return _job(row)


async def get_job_by_request_key(db: Database, request_key: str) -> JobRecord | None:
    """Return the job submitted earlier with this (actor-scoped) idempotency key, if any."""
    row = await db.fetchone("SELECT * FROM jobs WHERE request_key = ?", (request_key,))
    return _job(row) if row is not None else None


def _visible(actor: Actor, job: JobRecord) -> bool:
    return actor.is_system or (job.tenant_id is not None and job.tenant_id == actor.tenant_id)


async def get_job_for(db: Database, actor: Actor, job_id: str) -> JobRecord:
    """Return a job the actor may see, or raise NotFound."""
    job = await get_job(db, job_id)
    if not _visible(actor, job):
        raise NotFound(f"job {job_id}")
    return job


async def list_jobs(db: Database, actor: Actor, *, limit: int = 100) -> list[JobRecord]:
    """Return the actor's tenant's recent jobs (every job for a system admin), newest first."""
    if actor.is_system:
        rows = await db.fetchall(
            "SELECT * FROM jobs ORDER BY created_at DESC, id LIMIT ?", (limit,)
        )
    else:
        rows = await db.fetchall(
            "SELECT * FROM jobs WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?",
            (actor.tenant_id, limit),
        )
    return [_job(row) for row in rows]


async def list_active_jobs(db: Database, actor: Actor, kind: str) -> list[JobRecord]:
    """Return the actor's queued or running jobs of one kind (pending items on a page)."""
    scope = None if actor.is_system else actor.tenant_id
    rows = await db.fetchall(
        "SELECT * FROM jobs WHERE kind = ? AND state IN ('queued', 'running')"
        " AND (? IS NULL OR tenant_id = ?) ORDER BY created_at, id",
        (kind, scope, scope),
    )
    return [_job(row) for row in rows]


async def start_job(db: Database, job_id: str) -> JobRecord | None:
    """Mark a job running and count the try; None when it is done/failed already or unknown."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE jobs SET state = 'running', tries = tries + 1, updated_at = ?"
            " WHERE id = ? AND state IN ('queued', 'running') RETURNING *",
            (now_s(), job_id),
        )
        row = await cursor.fetchone()
        await cursor.close()
    return _job(row) if row is not None else None


async def finish_job(
    conn: aiosqlite.Connection, job_id: str, result: dict[str, Any] | None = None
) -> bool:
    """Mark a job done inside the transaction of its change; False if it was not running."""
    cursor = await conn.execute(
        "UPDATE jobs SET state = 'done', error = NULL, result = ?, updated_at = ?"
        " WHERE id = ? AND state IN ('queued', 'running')",
        (json.dumps(result or {}, separators=(",", ":")), now_s(), job_id),
    )
    changed = cursor.rowcount == 1
    await cursor.close()
    return changed


async def fail_job(conn: aiosqlite.Connection, job_id: str, error: str) -> JobRecord | None:
    """Mark a job failed with its reason; None if it had finished already."""
    cursor = await conn.execute(
        "UPDATE jobs SET state = 'failed', error = ?, updated_at = ?"
        " WHERE id = ? AND state IN ('queued', 'running') RETURNING *",
        (error[:500], now_s(), job_id),
    )
    row = await cursor.fetchone()
    await cursor.close()
    return _job(row) if row is not None else None


async def note_retry(db: Database, job_id: str, error: str) -> None:
    """Record a transient error while the job waits for its next try."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE jobs SET state = 'queued', error = ?, updated_at = ?"
            " WHERE id = ? AND state IN ('queued', 'running')",
            (error[:500], now_s(), job_id),
        )


async def requeue_failed_job(db: Database, actor: Actor, job_id: str) -> JobRecord:
    """Put a failed job the actor may see back in the queued state (retry); Conflict otherwise."""
    job = await get_job_for(db, actor, job_id)
    async with db.transaction() as conn:
        try:
            cursor = await conn.execute(
                "UPDATE jobs SET state = 'queued', error = NULL, tries = 0, updated_at = ?"
                " WHERE id = ? AND state = 'failed' RETURNING *",
                (now_s(), job.id),
            )
        except sqlite3.IntegrityError as exc:  # an equal job is active again
            raise Conflict("the same work is already queued") from exc
        row = await cursor.fetchone()
        await cursor.close()
    if row is None:
        raise Conflict(f"job {job_id} is {job.state}, not failed")
    return _job(row)


async def list_stale_jobs(
    db: Database, *, queued_before: int, running_before: int
) -> list[JobRecord]:
    """Return jobs queued or running for too long (their Redis job may be lost)."""
    rows = await db.fetchall(
        "SELECT * FROM jobs WHERE (state = 'queued' AND updated_at <= ?)"
        " OR (state = 'running' AND updated_at <= ?) ORDER BY created_at LIMIT 500",
        (queued_before, running_before),
    )
    return [_job(row) for row in rows]
