"""Reads of the events table for pages: the newest id and an actor's recent events."""

from __future__ import annotations

import json

from hotspotd.db import Database
from hotspotd.events import Event
from hotspotd.store.admins import Actor


async def latest_event_id(db: Database) -> int:
    """Return the newest event id (a page's live feed starts after it)."""
    row = await db.fetchone("SELECT COALESCE(MAX(id), 0) FROM events")
    return int(row[0]) if row else 0


async def recent_events(db: Database, actor: Actor, *, limit: int = 15) -> list[Event]:
    """Return the newest events the actor may see, newest first."""
    scope = None if actor.is_system else actor.tenant_id
    rows = await db.fetchall(
        "SELECT * FROM events WHERE ? IS NULL OR tenant_id = ? ORDER BY id DESC LIMIT ?",
        (scope, scope, limit),
    )
    return [
        Event(
            id=row["id"],
            tenant_id=row["tenant_id"],
            type=row["type"],
            subject=row["subject"],
            payload=json.loads(row["payload"]),
            created_at=row["created_at"],
        )
        for row in rows
    ]
