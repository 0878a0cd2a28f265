"""Vouchers in FreeRADIUS's tables: each code is a user (password = code) of its plan's group.

A voucher's validity starts at its first login (``Expire-After``); an optional batch expiry is
an ``Expiration`` check item. Each voucher also belongs to its batch's group, a group with no
check or reply rows: FreeRADIUS finds nothing in it, and it lists the batch's codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from radius.names import check_name
from radius.sql import Source, fetchall
from radius.users import format_expiration

BATCH_GROUP_PREFIX = "voucher-batch-"
# Below the plan group's priority 1 in the listing order; the merged authorize query reads
# every group's rows, and the batch group has none.
_BATCH_PRIORITY = 10


def batch_group_name(batch_id: int) -> str:
    """Return the RADIUS group that lists a batch's codes."""
    return f"{BATCH_GROUP_PREFIX}{batch_id}"


async def taken_usernames(conn: aiosqlite.Connection, names: Sequence[str]) -> set[str]:
    """Return which of the names are already RADIUS users (or subscriptions' user names)."""
    # One JSON parameter instead of a placeholder per name.
    rows = await conn.execute_fetchall(
        "SELECT username FROM radcheck WHERE username IN (SELECT value FROM json_each(?))"
        " UNION SELECT username FROM subscriptions"
        " WHERE username IN (SELECT value FROM json_each(?))",
        (json.dumps(list(names)), json.dumps(list(names))),
    )
    return {str(row[0]) for row in rows}


async def count_batch_vouchers(source: Source, batch_id: int) -> int:
    """Return how many codes a batch has so far."""
    rows = await fetchall(
        source,
        "SELECT COUNT(*) FROM radusergroup WHERE groupname = ?",
        (batch_group_name(batch_id),),
    )
    return int(rows[0][0])


async def create_voucher_users(
    conn: aiosqlite.Connection,
    codes: Iterable[str],
    *,
    plan_group: str,
    batch_id: int,
    validity_s: int,
    expires_at: datetime | None,
) -> int:
    """Insert voucher users in bulk inside the caller's transaction; return how many."""
    check_name("group", plan_group)
    if validity_s <= 0:
        raise ValueError("validity_s must be positive")
    batch_group = batch_group_name(batch_id)
    expiration = format_expiration(expires_at) if expires_at is not None else None
    checks: list[tuple[str, str, str]] = []
    members: list[tuple[str, str, int]] = []
    for code in codes:
        check_name("user", code)
        checks.append((code, "Cleartext-Password", code))
        checks.append((code, "Expire-After", str(validity_s)))
        if expiration is not None:
            checks.append((code, "Expiration", expiration))
        members.append((code, plan_group, 1))
        members.append((code, batch_group, _BATCH_PRIORITY))
    await conn.executemany(
        "INSERT INTO radcheck (username, attribute, op, value) VALUES (?, ?, ':=', ?)", checks
    )
    await conn.executemany(
        "INSERT INTO radusergroup (username, groupname, priority) VALUES (?, ?, ?)", members
    )
    return len(members) // 2


async def batch_of(source: Source, code: str) -> int | None:
    """Return the batch id of a voucher code, or None if it is not a voucher."""
    rows = await fetchall(
        source,
        "SELECT groupname FROM radusergroup WHERE username = ? AND priority = ?"
        " AND groupname LIKE 'voucher-batch-%'",
        (code, _BATCH_PRIORITY),
    )
    for (group,) in rows:
        suffix = str(group)[len(BATCH_GROUP_PREFIX) :]
        if suffix.isdigit():
            return int(suffix)
    return None


@dataclass(frozen=True)
class VoucherRadiusState:
    """What FreeRADIUS holds and has recorded for one voucher code."""

    code: str
    validity_s: int | None
    expiration: str | None
    revoked: bool
    first_login: int | None
    last_seen: int | None
    session_time_s: int
    octets: int
    online: bool


async def batch_states(
    source: Source, batch_id: int, code: str | None = None
) -> list[VoucherRadiusState]:
    """Return every voucher of a batch (or one code) with its RADIUS and accounting state."""
    rows = await fetchall(
        source,
        "SELECT m.username,"
        " (SELECT c.value FROM radcheck c WHERE c.username = m.username"
        "  AND c.attribute = 'Expire-After' LIMIT 1),"
        " (SELECT c.value FROM radcheck c WHERE c.username = m.username"
        "  AND c.attribute = 'Expiration' LIMIT 1),"
        " EXISTS (SELECT 1 FROM radcheck c WHERE c.username = m.username"
        "  AND c.attribute = 'Auth-Type' AND c.value = 'Reject'),"
        " a.first_login, a.last_seen, IFNULL(a.session_time, 0), IFNULL(a.octets, 0),"
        " IFNULL(a.online, 0)"
        " FROM radusergroup m LEFT JOIN ("
        "  SELECT username, MIN(acctstarttime) AS first_login,"
        "  MAX(IFNULL(acctstoptime, IFNULL(acctupdatetime, acctstarttime))) AS last_seen,"
        "  SUM(acctsessiontime) AS session_time,"
        "  SUM(acctinputoctets + acctoutputoctets) AS octets,"
        "  MAX(acctstoptime IS NULL) AS online"
        "  FROM radacct WHERE username IN (SELECT username FROM radusergroup WHERE groupname = ?)"
        "  GROUP BY username) a ON a.username = m.username"
        " WHERE m.groupname = ? AND (? IS NULL OR m.username = ?) ORDER BY m.id",
        (batch_group_name(batch_id), batch_group_name(batch_id), code, code),
    )
    return [
        VoucherRadiusState(
            code=str(row[0]),
            validity_s=int(row[1]) if row[1] is not None else None,
            expiration=str(row[2]) if row[2] is not None else None,
            revoked=bool(row[3]),
            first_login=int(row[4]) if row[4] is not None else None,
            last_seen=int(row[5]) if row[5] is not None else None,
            session_time_s=int(row[6]),
            octets=int(row[7]),
            online=bool(row[8]),
        )
        for row in rows
    ]


async def users_past_first_login_validity(
    source: Source, *, now: int, updated_since: int
) -> list[str]:
    """Return users with an open session whose Expire-After validity has run out.

    FreeRADIUS caps the session at the validity left and the router ends it; this lets the
    worker disconnect them too. Only sessions with recent accounting count (a lost Stop is
    closed elsewhere), so an unreachable router is not retried forever.
    """
    rows = await fetchall(
        source,
        "SELECT DISTINCT a.username FROM radacct a JOIN radcheck c"
        " ON c.username = a.username AND c.attribute = 'Expire-After'"
        " WHERE a.acctstoptime IS NULL"
        " AND IFNULL(a.acctupdatetime, a.acctstarttime) >= ?"
        " AND (SELECT MIN(f.acctstarttime) FROM radacct f WHERE f.username = a.username)"
        " + CAST(c.value AS INTEGER) <= ?",
        (updated_since, now),
    )
    return [str(row[0]) for row in rows]


async def group_has_users(source: Source, group: str) -> bool:
    """Return True if any user (a voucher, a subscription) is in the group."""
    rows = await fetchall(
        source, "SELECT 1 FROM radusergroup WHERE groupname = ? LIMIT 1", (group,)
    )
    return bool(rows)
