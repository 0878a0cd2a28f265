"""Routers (NAS) in FreeRADIUS's ``nas`` table.

FreeRADIUS resolves a router from this table on the first packet from its address (dynamic
clients, see ``radius.freeradius_config``) and caches it for ``client_lifetime_s``: a new row
works at once, a changed secret or a removed row only after that lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

import aiosqlite

from radius.sql import Source, fetchall


@dataclass(frozen=True)
class Nas:
    """One row of the nas table."""

    id: int
    ip: str
    shortname: str
    type: str
    secret: str
    description: str


def _check(ip: str, secret: str, shortname: str) -> str:
    address = str(IPv4Address(ip))
    if not 8 <= len(secret) <= 60 or not secret.isprintable() or '"' in secret or "\\" in secret:
        raise ValueError("secret must be 8-60 printable characters without quotes/backslashes")
    if not 1 <= len(shortname) <= 32:
        raise ValueError("shortname must be 1-32 characters")
    return address


async def add_nas(
    conn: aiosqlite.Connection,
    *,
    ip: str,
    secret: str,
    shortname: str,
    type: str = "other",
    description: str = "",
) -> int:
    """Register a router address (replacing any row for the same address); return the row id."""
    address = _check(ip, secret, shortname)
    await conn.execute("DELETE FROM nas WHERE nasname = ?", (address,))
    cursor = await conn.execute(
        "INSERT INTO nas (nasname, shortname, type, secret, description) VALUES (?, ?, ?, ?, ?)",
        (address, shortname, type, secret, description[:200]),
    )
    row_id = cursor.lastrowid
    await cursor.close()
    assert row_id is not None
    return row_id


async def remove_nas(conn: aiosqlite.Connection, ip: str) -> bool:
    """Remove a router address; return False if it was not registered."""
    cursor = await conn.execute("DELETE FROM nas WHERE nasname = ?", (str(IPv4Address(ip)),))
    removed = cursor.rowcount > 0
    await cursor.close()
    return removed


async def get_nas(source: Source, ip: str) -> Nas | None:
    """Return the router registered at ip, or None."""
    rows = await fetchall(source, _SELECT + " WHERE nasname = ? ORDER BY id DESC LIMIT 1", (ip,))
    return _nas(rows[0]) if rows else None


async def list_nas(source: Source) -> list[Nas]:
    """Return all registered routers."""
    return [_nas(row) for row in await fetchall(source, _SELECT + " ORDER BY nasname")]


_SELECT = "SELECT id, nasname, shortname, type, secret, description FROM nas"


def _nas(row: tuple[object, ...]) -> Nas:
    return Nas(
        id=int(str(row[0])),
        ip=str(row[1]),
        shortname=str(row[2] or ""),
        type=str(row[3] or "other"),
        secret=str(row[4]),
        description=str(row[5] or ""),
    )
