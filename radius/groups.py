"""Plan groups in FreeRADIUS's tables (radgroupcheck, radgroupreply).

A plan is a group: users point to it through radusergroup. Reply rows use the ``=`` operator,
so a value set on the user itself wins over the plan's. Check rows must use ``:=`` (any other
operator is compared with the request and silently drops the whole group), so the plan's data
quota is a separate attribute that the site uses only when the user has no quota of its own.
"""

from __future__ import annotations

import re

import aiosqlite

from radius.names import check_name

# MikroTik rate-limit syntax: rx[/tx] [burst ...], numbers with k/M/G suffixes.
_RATE_LIMIT = re.compile(
    r"^[0-9]+[kKmMgG]?(/[0-9]+[kKmMgG]?)?( [0-9]+[kKmMgG]?(/[0-9]+[kKmMgG]?)?)*$"
)


async def set_plan_group(
    conn: aiosqlite.Connection,
    group: str,
    *,
    rate_limit: str | None,
    shared_devices: int,
    data_quota_bytes: int | None,
    interim_interval_s: int = 300,
    idle_timeout_s: int | None = None,
) -> None:
    """Create or replace a plan group's limits and reply attributes."""
    check_name("group", group)
    if rate_limit is not None and (len(rate_limit) > 100 or not _RATE_LIMIT.match(rate_limit)):
        raise ValueError(f"invalid MikroTik rate limit: {rate_limit!r}")
    if shared_devices < 1:
        raise ValueError("shared_devices must be at least 1")
    if data_quota_bytes is not None and data_quota_bytes <= 0:
        raise ValueError("data_quota_bytes must be positive")
    if interim_interval_s < 60:
        raise ValueError("interim_interval_s must be at least 60")
    if idle_timeout_s is not None and idle_timeout_s <= 0:
        raise ValueError("idle_timeout_s must be positive")

    checks: list[tuple[str, str]] = [("Simultaneous-Use", str(shared_devices))]
    if data_quota_bytes is not None:
        checks.append(("Hotspot-Plan-Data-Quota", str(data_quota_bytes)))
    replies: list[tuple[str, str]] = [("Acct-Interim-Interval", str(interim_interval_s))]
    if rate_limit is not None:
        replies.append(("Mikrotik-Rate-Limit", rate_limit))
    if idle_timeout_s is not None:
        replies.append(("Idle-Timeout", str(idle_timeout_s)))

    await delete_plan_group(conn, group)
    await conn.executemany(
        "INSERT INTO radgroupcheck (groupname, attribute, op, value) VALUES (?, ?, ':=', ?)",
        [(group, attribute, value) for attribute, value in checks],
    )
    await conn.executemany(
        "INSERT INTO radgroupreply (groupname, attribute, op, value) VALUES (?, ?, '=', ?)",
        [(group, attribute, value) for attribute, value in replies],
    )


async def delete_plan_group(conn: aiosqlite.Connection, group: str) -> None:
    """Remove a plan group's check and reply rows (its users then get no plan attributes)."""
    await conn.execute("DELETE FROM radgroupcheck WHERE groupname = ?", (group,))
    await conn.execute("DELETE FROM radgroupreply WHERE groupname = ?", (group,))


async def group_exists(conn: aiosqlite.Connection, group: str) -> bool:
    """Return True if the plan group has its check rows."""
    # execute_fetchall: one hop into aiosqlite's thread instead of three.
    rows = await conn.execute_fetchall(
        "SELECT 1 FROM radgroupcheck WHERE groupname = ? LIMIT 1", (group,)
    )
    return bool(rows)
