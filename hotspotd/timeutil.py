"""UTC time as stored in the database (unix seconds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_s() -> int:
    """Return the current UTC time in whole unix seconds."""
    return int(time.time())


def to_datetime(ts: int) -> datetime:
    """Return an aware UTC datetime for unix seconds."""
    return datetime.fromtimestamp(ts, tz=UTC)
