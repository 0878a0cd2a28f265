"""Accounting through FreeRADIUS into radacct, and the radius.accounting helpers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pyrad import packet

from hotspotd.db import Database
from radius.accounting import (
    close_nas_sessions,
    close_sessions,
    close_stale_sessions,
    nas_open_sessions,
    open_sessions,
    user_sessions,
    user_usage,
)
from tests.support.freeradius import RadiusServer

GIB = 1 << 30


async def test_accounting_start_interim_stop_land_in_radacct(
    db: Database, radius_server: RadiusServer
) -> None:
    username = "acct-user-1"
    before = int(time.time())
    with radius_server.client() as client:
        reply = client.accounting("Start", username, "81000001", mac="AA:BB:CC:10:00:01")
        assert reply.code == packet.AccountingResponse
        sessions = await open_sessions(db, username)
        assert len(sessions) == 1
        started = sessions[0]
        assert started.session_id == "81000001"
        assert started.nas_ip == "127.0.0.1"
        assert started.framed_ip == "10.5.50.10"
        assert started.mac == "AA:BB:CC:10:00:01"
        assert started.started_at is not None
        assert started.started_at >= datetime.fromtimestamp(before, UTC)

        client.accounting(
            "Interim-Update",
            username,
            "81000001",
            session_time_s=300,
            input_octets=5 * GIB + 7,
            output_octets=123,
            mac="AA:BB:CC:10:00:01",
        )
        (interim,) = await open_sessions(db, username)
        assert interim.radacct_id == started.radacct_id
        assert interim.session_time_s == 300
        assert interim.input_octets == 5 * GIB + 7
        assert interim.output_octets == 123

        client.accounting(
            "Stop",
            username,
            "81000001",
            session_time_s=400,
            input_octets=6 * GIB,
            output_octets=1000,
            terminate_cause="User-Request",
            mac="AA:BB:CC:10:00:01",
        )
    assert await open_sessions(db, username) == []
    (stopped,) = await user_sessions(db, username)
    assert stopped.radacct_id == started.radacct_id
    assert not stopped.is_open
    assert stopped.session_time_s == 400
    assert stopped.terminate_cause == "User-Request"
    usage = await user_usage(db, username)
    assert usage.octets == 6 * GIB + 1000
    assert usage.session_time_s == 400
    assert usage.first_start == started.started_at


async def test_accounting_on_closes_the_routers_open_sessions(
    db: Database, radius_server: RadiusServer
) -> None:
    with radius_server.client() as client:
        client.accounting("Start", "reboot-user", "82000001")
        assert len(await open_sessions(db, "reboot-user")) == 1
        assert client.accounting_on().code == packet.AccountingResponse
    assert await open_sessions(db, "reboot-user") == []


async def test_accounting_usage_of_unknown_user_is_zero(db: Database) -> None:
    usage = await user_usage(db, "never-seen")
    assert (usage.octets, usage.session_time_s, usage.first_start) == (0, 0, None)


async def _insert_open(db: Database, username: str, nas_ip: str, session: str, age_s: int) -> None:
    now = int(time.time())
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress, "
            "acctstarttime, acctupdatetime, acctsessiontime) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (session, f"uniq-{session}", username, nas_ip, now - age_s - 60, now - age_s),
        )


async def test_close_stale_sessions_closes_only_silent_ones(db: Database) -> None:
    await _insert_open(db, "stale-user", "192.0.2.10", "stale-old", age_s=2000)
    await _insert_open(db, "stale-user", "192.0.2.10", "stale-fresh", age_s=10)
    async with db.transaction() as conn:
        closed = await close_stale_sessions(conn, stale_after_s=900)
    assert closed == 1
    (still_open,) = await open_sessions(db, "stale-user")
    assert still_open.session_id == "stale-fresh"
    closed_row = next(s for s in await user_sessions(db, "stale-user") if not s.is_open)
    assert closed_row.terminate_cause == "Stale-Session"
    # The stop time is the last update, not "now".
    assert closed_row.stopped_at == closed_row.updated_at


async def test_close_nas_sessions_and_by_id(db: Database) -> None:
    await _insert_open(db, "nas-user-a", "192.0.2.20", "nas-a", age_s=5)
    await _insert_open(db, "nas-user-b", "192.0.2.20", "nas-b", age_s=5)
    await _insert_open(db, "nas-user-c", "192.0.2.21", "nas-c", age_s=5)
    assert {s.session_id for s in await nas_open_sessions(db, "192.0.2.20")} == {"nas-a", "nas-b"}
    async with db.transaction() as conn:
        assert await close_nas_sessions(conn, "192.0.2.20") == 2
    assert await nas_open_sessions(db, "192.0.2.20") == []
    (other,) = await nas_open_sessions(db, "192.0.2.21")
    async with db.transaction() as conn:
        assert await close_sessions(conn, [other.radacct_id], cause="Admin-Reset") == 1
        # Closing again changes nothing.
        assert await close_sessions(conn, [other.radacct_id]) == 0
    (closed,) = await user_sessions(db, "nas-user-c")
    assert closed.terminate_cause == "Admin-Reset"


async def test_accounting_reads_inside_a_transaction(db: Database) -> None:
    await _insert_open(db, "txn-user", "192.0.2.30", "txn-1", age_s=5)
    async with db.transaction() as conn:
        (session,) = await open_sessions(conn, "txn-user")
    assert session.session_id == "txn-1"
