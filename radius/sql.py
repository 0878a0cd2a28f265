"""Read helper shared by the radius modules: works on a Database or a bare connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from hotspotd.db import Database

# Reads accept either the daemon's Database (its read connection) or a connection inside the
# caller's transaction; writes always take a connection.
Source = Database | aiosqlite.Connection


async def fetchall(source: Source, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a read query and return the rows as tuples."""
    if isinstance(source, Database):
        return [tuple(row) for row in await source.fetchall(sql, params)]
    return [tuple(row) for row in await source.execute_fetchall(sql, params)]
