"""Domain events: recorded in the events table, then published on Redis."""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

import aiosqlite
from pydantic import BaseModel

from hotspotd.db import Database
from hotspotd.timeutil import now_s

logger = logging.getLogger(__name__)


class Publisher(Protocol):
    # Not "async def": redis-py declares publish() as a plain method returning an awaitable.
    def publish(self, channel: str, message: str) -> Any: ...


class Event(BaseModel):
    id: int
    tenant_id: int | None
    type: str
    subject: str
    payload: dict[str, Any]
    created_at: int


def events_channel(key_prefix: str) -> str:
    """Return the pub/sub channel every portal process listens on."""
    return f"{key_prefix}events"


async def record_event(
    conn: aiosqlite.Connection,
    type_: str,
    *,
    tenant_id: int | None,
    subject: str = "",
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append an event inside the caller's transaction, so it commits with the change."""
    created_at = now_s()
    body = payload or {}
    # RETURNING with execute_fetchall: one hop into aiosqlite's thread.
    rows = list(
        await conn.execute_fetchall(
            "INSERT INTO events (tenant_id, type, subject, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (tenant_id, type_, subject, json.dumps(body, separators=(",", ":")), created_at),
        )
    )
    event_id = int(rows[0][0])
    return Event(
        id=event_id,
        tenant_id=tenant_id,
        type=type_,
        subject=subject,
        payload=body,
        created_at=created_at,
    )


async def publish_event(redis: Publisher, key_prefix: str, event: Event) -> None:
    """Publish a committed event; a lost publish is caught up from the table."""
    try:
        await redis.publish(events_channel(key_prefix), event.model_dump_json())
    except Exception as exc:  # Redis down must not undo a committed change.
        logger.warning("could not publish event %s (%s): %s", event.id, event.type, exc)


def _row_to_event(row: Any) -> Event:
    return Event(
        id=row["id"],
        tenant_id=row["tenant_id"],
        type=row["type"],
        subject=row["subject"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
    )


async def events_since(
    db: Database,
    after_id: int,
    *,
    tenant_id: int | None,
    all_tenants: bool = False,
    limit: int = 500,
) -> list[Event]:
    """Return events after an id: one tenant's, or every tenant's for a system admin."""
    if all_tenants:
        rows = await db.fetchall(
            "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
    else:
        rows = await db.fetchall(
            "SELECT * FROM events WHERE id > ? AND tenant_id IS ? ORDER BY id LIMIT ?",
            (after_id, tenant_id, limit),
        )
    return [_row_to_event(row) for row in rows]
