"""Hotspot users in FreeRADIUS's tables (radcheck, radreply, radusergroup).

Functions take an ``aiosqlite.Connection`` inside the caller's transaction, so provisioning a
subscription and its RADIUS user is one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiosqlite

from radius.names import check_name

# Month abbreviations spelled out: strftime("%b") follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MAX_PASSWORD_LEN = 128


def format_expiration(expires_at: datetime) -> str:
    """Return the FreeRADIUS ``Expiration`` value for an aware datetime, in UTC.

    FreeRADIUS reads the zone-less string in its own local time zone; the rendered
    radiusd.conf pins that to UTC (``ENV { TZ = "UTC" }``) and ``start_freeradius`` sets TZ=UTC.
    """
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    utc = expires_at.astimezone(UTC)
    return f"{_MONTHS[utc.month - 1]} {utc.day:02d} {utc.year} {utc:%H:%M:%S}"


async def set_user(
    conn: aiosqlite.Connection,
    username: str,
    password: str,
    *,
    group: str,
    expires_at: datetime | None,
    data_quota_bytes: int | None = None,
    time_quota_s: int | None = None,
    valid_after_first_login_s: int | None = None,
) -> None:
    """Create or replace a user: password, limits and plan group (re-enables a disabled user).

    ``data_quota_bytes`` / ``time_quota_s`` count over all of the user's radacct rows;
    ``valid_after_first_login_s`` ends access that long after the first accounting Start.
    A user quota overrides the plan group's.
    """
    check_name("user", username)
    check_name("group", group)
    if not password or len(password) > _MAX_PASSWORD_LEN or not password.isprintable():
        raise ValueError("password must be 1-128 printable characters")
    checks: list[tuple[str, str]] = [("Cleartext-Password", password)]
    if expires_at is not None:
        checks.append(("Expiration", format_expiration(expires_at)))
    for attribute, value in (
        ("Hotspot-Data-Quota", data_quota_bytes),
        ("Max-All-Session", time_quota_s),
        ("Expire-After", valid_after_first_login_s),
    ):
        if value is not None:
            if value <= 0:
                raise ValueError(f"{attribute} must be positive")
            checks.append((attribute, str(value)))
    await _delete_rows(conn, username)
    await conn.executemany(
        "INSERT INTO radcheck (username, attribute, op, value) VALUES (?, ?, ':=', ?)",
        [(username, attribute, value) for attribute, value in checks],
    )
    await conn.execute(
        "INSERT INTO radusergroup (username, groupname, priority) VALUES (?, ?, 1)",
        (username, group),
    )


async def disable_user(conn: aiosqlite.Connection, username: str) -> None:
    """Make every further login of the user fail (live sessions are not touched)."""
    await conn.execute(
        "INSERT INTO radcheck (username, attribute, op, value) "
        "SELECT ?, 'Auth-Type', ':=', 'Reject' WHERE NOT EXISTS "
        "(SELECT 1 FROM radcheck WHERE username = ? AND attribute = 'Auth-Type')",
        (username, username),
    )


async def enable_user(conn: aiosqlite.Connection, username: str) -> None:
    """Undo disable_user."""
    await conn.execute(
        "DELETE FROM radcheck WHERE username = ? AND attribute = 'Auth-Type' AND value = 'Reject'",
        (username,),
    )


async def delete_user(conn: aiosqlite.Connection, username: str) -> None:
    """Remove the user's check/reply/group rows; accounting history stays."""
    await _delete_rows(conn, username)


async def user_exists(conn: aiosqlite.Connection, username: str) -> bool:
    """Return True if the user has a password row."""
    async with conn.execute(
        "SELECT 1 FROM radcheck WHERE username = ? AND attribute = 'Cleartext-Password'",
        (username,),
    ) as cursor:
        return await cursor.fetchone() is not None


async def _delete_rows(conn: aiosqlite.Connection, username: str) -> None:
    for table in ("radcheck", "radreply", "radusergroup"):
        # Table names come from the fixed tuple above, never from input.
        await conn.execute(f"DELETE FROM {table} WHERE username = ?", (username,))
