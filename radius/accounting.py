"""Sessions in FreeRADIUS's ``radacct`` table (times are epoch seconds, octets 64-bit)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from radius.sql import Source, fetchall


@dataclass(frozen=True)
class AcctSession:
    """One accounting session (one radacct row)."""

    radacct_id: int
    username: str
    session_id: str
    nas_ip: str
    framed_ip: str
    mac: str
    started_at: datetime | None
    updated_at: datetime | None
    stopped_at: datetime | None
    session_time_s: int
    input_octets: int
    output_octets: int
    terminate_cause: str

    @property
    def is_open(self) -> bool:
        """True while no Stop was recorded."""
        return self.stopped_at is None


@dataclass(frozen=True)
class Usage:
    """A user's totals over all sessions (what the time and data counters see)."""

    session_time_s: int
    octets: int
    first_start: datetime | None


_COLUMNS = (
    "radacctid, username, acctsessionid, nasipaddress, framedipaddress, callingstationid, "
    "acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctinputoctets, "
    "acctoutputoctets, acctterminatecause"
)


async def open_sessions(source: Source, username: str) -> list[AcctSession]:
    """Return the user's sessions with no Stop yet, oldest first."""
    rows = await fetchall(
        source,
        f"SELECT {_COLUMNS} FROM radacct WHERE username = ? AND acctstoptime IS NULL "
        "ORDER BY acctstarttime, radacctid",
        (username,),
    )
    return [_session(row) for row in rows]


async def user_sessions(source: Source, username: str, *, limit: int = 50) -> list[AcctSession]:
    """Return the user's most recent sessions, newest first."""
    rows = await fetchall(
        source,
        f"SELECT {_COLUMNS} FROM radacct WHERE username = ? "
        "ORDER BY acctstarttime DESC, radacctid DESC LIMIT ?",
        (username, limit),
    )
    return [_session(row) for row in rows]


async def nas_open_sessions(source: Source, nas_ip: str) -> list[AcctSession]:
    """Return the open sessions of one router, oldest first."""
    rows = await fetchall(
        source,
        f"SELECT {_COLUMNS} FROM radacct WHERE nasipaddress = ? AND acctstoptime IS NULL "
        "ORDER BY acctstarttime, radacctid",
        (nas_ip,),
    )
    return [_session(row) for row in rows]


async def user_usage(source: Source, username: str) -> Usage:
    """Return the user's total online time and octets, and the first session start."""
    rows = await fetchall(
        source,
        "SELECT IFNULL(SUM(acctsessiontime), 0), "
        "IFNULL(SUM(acctinputoctets + acctoutputoctets), 0), MIN(acctstarttime) "
        "FROM radacct WHERE username = ?",
        (username,),
    )
    session_time, octets, first = rows[0]
    return Usage(int(session_time), int(octets), _time(first))


async def close_sessions(
    conn: aiosqlite.Connection, radacct_ids: Sequence[int], *, cause: str = "Admin-Reset"
) -> int:
    """Close open sessions by id (stop time = last update); return how many were closed."""
    closed = 0
    for radacct_id in radacct_ids:
        closed += await _close(conn, "radacctid = ?", (radacct_id,), cause)
    return closed


async def close_nas_sessions(
    conn: aiosqlite.Connection, nas_ip: str, *, cause: str = "NAS-Reboot"
) -> int:
    """Close every open session of a router (rebooted, removed); return how many."""
    return await _close(conn, "nasipaddress = ?", (nas_ip,), cause)


async def close_stale_sessions(
    conn: aiosqlite.Connection,
    *,
    stale_after_s: int,
    now: datetime | None = None,
    cause: str = "Stale-Session",
) -> int:
    """Close open sessions with no accounting for stale_after_s (a lost Stop); return how many.

    Open rows count towards Simultaneous-Use, so a lost Stop would lock a user out; use a few
    interim intervals as ``stale_after_s``.
    """
    current = int(now.timestamp()) if now is not None else int(time.time())
    return await _close(
        conn,
        "IFNULL(acctupdatetime, acctstarttime) < ?",
        (current - stale_after_s,),
        cause,
    )


async def _close(
    conn: aiosqlite.Connection, where: str, params: tuple[object, ...], cause: str
) -> int:
    # The last update is the best known end of a session whose Stop never came; the time
    # counters then count only time that was reported.
    cursor = await conn.execute(
        "UPDATE radacct SET acctstoptime = IFNULL(acctupdatetime, acctstarttime), "
        f"acctterminatecause = ? WHERE acctstoptime IS NULL AND {where}",
        (cause, *params),
    )
    count = cursor.rowcount
    await cursor.close()
    return count


def _time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or str(value).isdigit():
        return datetime.fromtimestamp(int(str(value)), UTC)
    # Rows written by other tools may hold "YYYY-MM-DD HH:MM:SS" (UTC).
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _session(row: tuple[object, ...]) -> AcctSession:
    return AcctSession(
        radacct_id=int(str(row[0])),
        username=str(row[1]),
        session_id=str(row[2]),
        nas_ip=str(row[3]),
        framed_ip=str(row[4] or ""),
        mac=str(row[5] or ""),
        started_at=_time(row[6]),
        updated_at=_time(row[7]),
        stopped_at=_time(row[8]),
        session_time_s=int(str(row[9] or 0)),
        input_octets=int(str(row[10] or 0)),
        output_octets=int(str(row[11] or 0)),
        terminate_cause=str(row[12] or ""),
    )


async def online_group_members(source: Source, group: str) -> list[str]:
    """Return the user names of a group (a plan) that have an open session now."""
    rows = await fetchall(
        source,
        "SELECT DISTINCT a.username FROM radacct a"
        " JOIN radusergroup g ON g.username = a.username"
        " WHERE g.groupname = ? AND a.acctstoptime IS NULL ORDER BY a.username",
        (group,),
    )
    return [str(row[0]) for row in rows]
