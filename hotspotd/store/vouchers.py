"""Voucher batches: requested and completed batches, recorded as domain events.

There is no vouchers table yet (a migration for ``voucher_batches``/``vouchers`` is the next
step): a batch is the ``VoucherBatchRequested`` event that recorded it before its job was
queued (its id is the batch id), and it is done when a ``VoucherBatchCreated`` event for
``voucher-batch:<id>`` exists. The codes themselves are RADIUS users (see radius/vouchers.py).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Literal

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.events import record_event
from hotspotd.store.errors import NotFound

REQUESTED = "VoucherBatchRequested"
CREATED = "VoucherBatchCreated"

# Unambiguous on a printed card: no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"

BatchState = Literal["queued", "done"]


class BatchParams(BaseModel):
    """What a batch was asked for."""

    plan_id: int
    count: int
    prefix: str = ""
    code_length: int = 8
    expires_at: int | None = None
    price_cents: int
    currency: str
    validity_s: int


class VoucherBatch(BaseModel):
    id: int
    tenant_id: int
    params: BatchParams
    state: BatchState
    created: int | None
    created_at: int

    @property
    def subject(self) -> str:
        """Return the event subject of this batch's later events."""
        return batch_subject(self.id)


def batch_subject(batch_id: int) -> str:
    """Return the event subject for a batch."""
    return f"voucher-batch:{batch_id}"


async def record_batch_request(
    conn: aiosqlite.Connection, tenant_id: int, params: BatchParams
) -> VoucherBatch:
    """Record a batch request inside the caller's transaction, before its job is queued."""
    event = await record_event(
        conn,
        REQUESTED,
        tenant_id=tenant_id,
        subject=f"plan:{params.plan_id}",
        payload=params.model_dump(),
    )
    return VoucherBatch(
        id=event.id,
        tenant_id=tenant_id,
        params=params,
        state="queued",
        created=None,
        created_at=event.created_at,
    )


_SELECT = (
    "SELECT r.id, r.tenant_id, r.payload, r.created_at, c.payload AS done"
    # c.tenant_id: the events_tenant index finds the completion among the tenant's events.
    " FROM events r LEFT JOIN events c ON c.tenant_id = r.tenant_id AND c.type = ?"
    " AND c.subject = 'voucher-batch:' || r.id"
    " WHERE r.type = ?"
)


def _batch(row: sqlite3.Row) -> VoucherBatch:
    done: dict[str, Any] | None = json.loads(row["done"]) if row["done"] else None
    return VoucherBatch(
        id=row["id"],
        tenant_id=row["tenant_id"],
        params=BatchParams.model_validate(json.loads(row["payload"])),
        state="done" if done is not None else "queued",
        created=int(done["created"]) if done is not None else None,
        created_at=row["created_at"],
    )


async def get_batch(db: Database, tenant_id: int | None, batch_id: int) -> VoucherBatch:
    """Return a batch of the tenant (None: any tenant, for the worker or a system admin)."""
    row = await db.fetchone(
        _SELECT + " AND r.id = ? AND (? IS NULL OR r.tenant_id = ?)",
        (CREATED, REQUESTED, batch_id, tenant_id, tenant_id),
    )
    if row is None:
        raise NotFound(f"voucher batch {batch_id}")
    return _batch(row)


async def list_batches(
    db: Database, tenant_id: int | None, *, limit: int = 200
) -> list[VoucherBatch]:
    """Return a tenant's batches (every tenant's for None), newest first."""
    rows = await db.fetchall(
        _SELECT + " AND (? IS NULL OR r.tenant_id = ?) ORDER BY r.id DESC LIMIT ?",
        (CREATED, REQUESTED, tenant_id, tenant_id, limit),
    )
    return [_batch(row) for row in rows]


async def list_unfinished_batches(db: Database, *, older_than: int) -> list[VoucherBatch]:
    """Return batches requested before a time and not created (for the reconciler)."""
    rows = await db.fetchall(
        _SELECT + " AND c.id IS NULL AND r.created_at <= ? ORDER BY r.id LIMIT 100",
        (CREATED, REQUESTED, older_than),
    )
    return [_batch(row) for row in rows]
