"""Access-Request handling of the rendered FreeRADIUS config against the daemon's database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from pyrad import packet

from hotspotd.db import Database
from radius.groups import set_plan_group
from radius.users import set_user
from tests.support.freeradius import RadiusServer, reply_value

_names = itertools.count()


def new_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_names)}"


async def provision(
    db: Database,
    *,
    expires_in: timedelta | None = timedelta(hours=2),
    rate_limit: str | None = "2M/5M",
    shared_devices: int = 1,
    **limits: int,
) -> tuple[str, str]:
    username, group = new_name(), new_name("plan")
    async with db.transaction() as conn:
        await set_plan_group(
            conn, group, rate_limit=rate_limit, shared_devices=shared_devices, data_quota_bytes=None
        )
        await set_user(
            conn,
            username,
            "s3cret-pw",
            group=group,
            expires_at=None if expires_in is None else datetime.now(UTC) + expires_in,
            **limits,
        )
    return username, "s3cret-pw"


async def test_pap_accept_has_plan_rate_limit_and_session_timeout(
    db: Database, radius_server: RadiusServer
) -> None:
    username, password = await provision(db, expires_in=timedelta(hours=2))
    with radius_server.client() as client:
        reply = client.pap(username, password)
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Mikrotik-Rate-Limit") == "2M/5M"
    assert reply_value(reply, "Acct-Interim-Interval") == 300
    assert 7190 <= reply_value(reply, "Session-Timeout") <= 7200


async def test_chap_accept_like_mikrotik(db: Database, radius_server: RadiusServer) -> None:
    username, password = await provision(db)
    with radius_server.client() as client:
        reply = client.chap(username, password)
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Mikrotik-Rate-Limit") == "2M/5M"
