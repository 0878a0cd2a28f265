"""Voucher jobs: batch generation (general queue, with progress events), revocation (critical),
the batch reconciler, and the status of a voucher as the admin sees it."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import aiosqlite

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import plans
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.errors import NotFound
from hotspotd.store.vouchers import ALPHABET, VoucherBatch
from hotspotd.timeutil import now_s, to_datetime
from radius import users
from radius import vouchers as radius_vouchers
from radius.vouchers import VoucherRadiusState
from tasks.context import job_db, job_settings
from tasks.expiry import end_live_sessions, ensure_plan_group

logger = logging.getLogger(__name__)

MAX_BATCH = 10_000
# Codes written per transaction: short write locks keep FreeRADIUS's reads flowing.
CHUNK = 1000
# A batch requested this long ago and not created has lost its job: queue it again.
BATCH_GRACE_S = 120

VoucherStatus = Literal["unused", "active", "used_up", "expired", "revoked"]


def generate_codes(count: int, *, length: int, prefix: str = "") -> list[str]:
    """Return count distinct random codes of the unambiguous alphabet, prefixed."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(prefix + "".join(secrets.choice(ALPHABET) for _ in range(length)))
    return list(codes)


async def generate_voucher_batch(
    db: Database, settings: Settings, batch_id: int, publisher: Publisher | None = None
) -> dict[str, Any]:
    """Create a batch's codes as RADIUS users, in chunks; safe to re-run after a crash."""
    started = time.monotonic()
    batch = await voucher_store.get_batch(db, None, batch_id)
    if batch.state == "done":
        return {"batch_id": batch_id, "created": batch.created, "state": "done"}
    params = batch.params
    plan = await plans.get_plan(db, batch.tenant_id, params.plan_id)
    expires_at = to_datetime(params.expires_at) if params.expires_at is not None else None
    # Codes from an interrupted run are kept: only the rest is made.
    made = await radius_vouchers.count_batch_vouchers(db, batch_id)
    async with db.transaction() as conn:
        await ensure_plan_group(conn, settings, plan)
    while made < params.count:
        want = min(CHUNK, params.count - made)
        async with db.transaction() as conn:
            codes = generate_codes(want, length=params.code_length, prefix=params.prefix)
            taken = await radius_vouchers.taken_usernames(conn, codes)
            fresh = [code for code in codes if code not in taken]
            made += await radius_vouchers.create_voucher_users(
                conn,
                fresh,
                plan_group=plan.radius_group,
                batch_id=batch_id,
                validity_s=params.validity_s,
                expires_at=expires_at,
            )
            progress = await _event(
                conn, batch, "VoucherBatchProgress", {"created": made, "count": params.count}
            )
        if publisher is not None:
            await publish_event(publisher, settings.redis.key_prefix, progress)
    async with db.transaction() as conn:
        done = await _event(
            conn,
            batch,
            voucher_store.CREATED,
            {"created": made, "count": params.count, "plan_id": plan.id},
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, done)
    elapsed = time.monotonic() - started
    logger.info("voucher batch %d: %d codes in %.2f s", batch_id, made, elapsed)
    return {"batch_id": batch_id, "created": made, "state": "done", "elapsed_s": elapsed}


async def _event(
    conn: aiosqlite.Connection, batch: VoucherBatch, type_: str, payload: dict[str, Any]
) -> Event:
    return await record_event(
        conn,
        type_,
        tenant_id=batch.tenant_id,
        subject=batch.subject,
        payload={"batch_id": batch.id, **payload},
    )


@dataclass
class Voucher:
    """A voucher as the admin sees it."""

    code: str
    batch_id: int
    status: VoucherStatus
    validity_s: int | None
    first_login: int | None
    ends_at: int | None
    last_seen: int | None
    session_time_s: int
    octets: int
    online: bool

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready voucher."""
        return asdict(self)


def voucher_status(
    state: VoucherRadiusState, *, batch: VoucherBatch, data_quota_bytes: int | None, now: int
) -> Voucher:
    """Derive a voucher's status from its RADIUS rows and accounting."""
    ends_at = None
    if state.first_login is not None and state.validity_s is not None:
        ends_at = state.first_login + state.validity_s
    status: VoucherStatus
    if state.revoked:
        status = "revoked"
    elif (ends_at is not None and ends_at <= now) or (
        data_quota_bytes is not None and state.octets >= data_quota_bytes
    ):
        status = "used_up"
    elif batch.params.expires_at is not None and batch.params.expires_at <= now:
        status = "expired"
    elif state.first_login is not None:
        status = "active"
    else:
        status = "unused"
    return Voucher(
        code=state.code,
        batch_id=batch.id,
        status=status,
        validity_s=state.validity_s,
        first_login=state.first_login,
        ends_at=ends_at,
        last_seen=state.last_seen,
        session_time_s=state.session_time_s,
        octets=state.octets,
        online=state.online,
    )


async def batch_vouchers(
    db: Database, batch: VoucherBatch, *, code: str | None = None
) -> list[Voucher]:
    """Return a batch's vouchers (or one) with their status."""
    try:
        plan = await plans.get_plan(db, batch.tenant_id, batch.params.plan_id)
        quota = plan.data_quota_bytes
    except NotFound:
        quota = None
    now = now_s()
    return [
        voucher_status(state, batch=batch, data_quota_bytes=quota, now=now)
        for state in await radius_vouchers.batch_states(db, batch.id, code)
    ]


async def revoke_voucher_now(
    db: Database,
    settings: Settings,
    code: str,
    publisher: Publisher | None = None,
) -> dict[str, Any]:
    """Disable a voucher in RADIUS and disconnect it if online; VoucherRevoked event."""
    batch_id = await radius_vouchers.batch_of(db, code)
    if batch_id is None:
        return {"code": code, "revoked": False, "error": "not a voucher"}
    batch = await voucher_store.get_batch(db, None, batch_id)
    async with db.transaction() as conn:
        await users.disable_user(conn, code)
        event = await _event(conn, batch, "VoucherRevoked", {"code": code})
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    kicks = await end_live_sessions(db, settings, code, publisher)
    return {"code": code, "revoked": True, "kicked": sum(k.kicked for k in kicks)}


# -- jobs -------------------------------------------------------------------------------------


async def generate_vouchers(ctx: dict[str, Any], batch_id: int) -> dict[str, Any]:
    """Generate a voucher batch's codes (general queue)."""
    try:
        return await generate_voucher_batch(job_db(ctx), job_settings(ctx), batch_id, ctx["redis"])
    except NotFound as exc:
        logger.warning("voucher batch %d cannot be generated: %s", batch_id, exc)
        return {"batch_id": batch_id, "state": "missing"}


async def revoke_voucher(ctx: dict[str, Any], code: str) -> dict[str, Any]:
    """Revoke a voucher and disconnect it (critical queue: it is access control)."""
    return await revoke_voucher_now(job_db(ctx), job_settings(ctx), code, ctx["redis"])


async def reconcile_voucher_batches(ctx: dict[str, Any]) -> int:
    """Cron: queue again the batches whose job was lost (requested, never created)."""
    from tasks.voucher_enqueue import enqueue_generate_vouchers

    settings = job_settings(ctx)
    stale = await voucher_store.list_unfinished_batches(
        job_db(ctx), older_than=now_s() - BATCH_GRACE_S
    )
    for batch in stale:
        await enqueue_generate_vouchers(ctx["redis"], settings, batch.id)
    if stale:
        logger.warning("re-enqueued %d voucher batches", len(stale))
    return len(stale)
