"""Access-Request handling of the rendered FreeRADIUS config against the daemon's database."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

from pyrad import packet

from hotspotd.db import Database
from radius.groups import set_plan_group
from radius.users import disable_user, enable_user, set_user
from tests.support.freeradius import RadiusServer, reply_value

_names = itertools.count()
PASSWORD = "s3cret-pw"
GIB = 1 << 30


def new_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_names)}"


async def provision(
    db: Database,
    *,
    expires_in: timedelta | None = timedelta(hours=2),
    rate_limit: str | None = "2M/5M",
    shared_devices: int = 1,
    plan_data_quota_bytes: int | None = None,
    **limits: int,
) -> str:
    username, group = new_name(), new_name("plan")
    async with db.transaction() as conn:
        await set_plan_group(
            conn,
            group,
            rate_limit=rate_limit,
            shared_devices=shared_devices,
            data_quota_bytes=plan_data_quota_bytes,
        )
        await set_user(
            conn,
            username,
            PASSWORD,
            group=group,
            expires_at=None if expires_in is None else datetime.now(UTC) + expires_in,
            **limits,
        )
    return username


async def test_pap_accept_has_plan_rate_limit_and_session_timeout(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db, expires_in=timedelta(hours=2))
    with radius_server.client() as client:
        reply = client.pap(username, PASSWORD)
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Mikrotik-Rate-Limit") == "2M/5M"
    assert reply_value(reply, "Acct-Interim-Interval") == 300
    assert 7190 <= reply_value(reply, "Session-Timeout") <= 7200


async def test_chap_accept_like_mikrotik(db: Database, radius_server: RadiusServer) -> None:
    username = await provision(db, expires_in=timedelta(minutes=30))
    with radius_server.client() as client:
        reply = client.chap(username, PASSWORD)
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Mikrotik-Rate-Limit") == "2M/5M"
    assert 1790 <= reply_value(reply, "Session-Timeout") <= 1800


async def test_auth_wrong_password_rejected(db: Database, radius_server: RadiusServer) -> None:
    username = await provision(db)
    with radius_server.client() as client:
        assert client.pap(username, "wrong-pw").code == packet.AccessReject
        assert client.chap(username, "wrong-pw").code == packet.AccessReject


async def test_auth_unknown_user_rejected(radius_server: RadiusServer) -> None:
    with radius_server.client() as client:
        assert client.pap("nobody-here", PASSWORD).code == packet.AccessReject
        assert client.chap("nobody-here", PASSWORD).code == packet.AccessReject


async def test_auth_expired_user_rejected(db: Database, radius_server: RadiusServer) -> None:
    username = await provision(db, expires_in=timedelta(seconds=-5))
    with radius_server.client() as client:
        assert client.pap(username, PASSWORD).code == packet.AccessReject


async def test_auth_without_expiration_has_no_session_timeout(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db, expires_in=None, rate_limit=None)
    with radius_server.client() as client:
        reply = client.pap(username, PASSWORD)
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Session-Timeout") is None
    assert reply_value(reply, "Mikrotik-Rate-Limit") is None


async def test_disable_user_rejects_and_enable_restores(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db)
    async with db.transaction() as conn:
        await disable_user(conn, username)
        await disable_user(conn, username)  # idempotent
    with radius_server.client() as client:
        assert client.pap(username, PASSWORD).code == packet.AccessReject
        assert client.chap(username, PASSWORD).code == packet.AccessReject
        async with db.transaction() as conn:
            await enable_user(conn, username)
        assert client.pap(username, PASSWORD).code == packet.AccessAccept


async def test_simultaneous_use_rejects_second_device_once_first_started(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db, shared_devices=1)
    first = {"mac": "AA:BB:CC:00:01:01", "client_ip": "10.5.50.21"}
    second = {"mac": "AA:BB:CC:00:01:02", "client_ip": "10.5.50.22"}
    with radius_server.client() as client:
        assert client.pap(username, PASSWORD, **first).code == packet.AccessAccept
        # Without an accounting Start nothing is open yet.
        assert client.pap(username, PASSWORD, **second).code == packet.AccessAccept
        client.accounting(
            "Start", username, "sess-1", mac=first["mac"], client_ip=first["client_ip"]
        )
        assert client.pap(username, PASSWORD, **second).code == packet.AccessReject
        client.accounting(
            "Stop",
            username,
            "sess-1",
            session_time_s=60,
            mac=first["mac"],
            client_ip=first["client_ip"],
        )
        assert client.pap(username, PASSWORD, **second).code == packet.AccessAccept


async def test_simultaneous_use_allows_shared_devices(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db, shared_devices=2)
    with radius_server.client() as client:
        client.accounting("Start", username, "shared-1", mac="AA:BB:CC:00:02:01")
        assert client.pap(username, PASSWORD, mac="AA:BB:CC:00:02:02").code == packet.AccessAccept
        client.accounting("Start", username, "shared-2", mac="AA:BB:CC:00:02:02")
        assert client.pap(username, PASSWORD, mac="AA:BB:CC:00:02:03").code == packet.AccessReject


async def test_data_quota_replies_remaining_and_rejects_when_used_up(
    db: Database, radius_server: RadiusServer
) -> None:
    # Gigawords are units of 4 GiB: 9 GiB + 1000 = 2 * 4 GiB + (1 GiB + 1000).
    quota = 9 * GIB + 1000
    username = await provision(db, shared_devices=3, data_quota_bytes=quota)
    with radius_server.client() as client:
        reply = client.pap(username, PASSWORD)
        assert reply.code == packet.AccessAccept
        assert reply_value(reply, "Mikrotik-Total-Limit-Gigawords") == 2
        assert reply_value(reply, "Mikrotik-Total-Limit") == GIB + 1000

        client.accounting("Start", username, "quota-1")
        client.accounting(
            "Interim-Update", username, "quota-1", input_octets=GIB, output_octets=3 * GIB + 400
        )
        reply = client.pap(username, PASSWORD)
        assert reply.code == packet.AccessAccept
        assert reply_value(reply, "Mikrotik-Total-Limit-Gigawords") == 1
        assert reply_value(reply, "Mikrotik-Total-Limit") == GIB + 600

        client.accounting(
            "Stop", username, "quota-1", input_octets=GIB, output_octets=8 * GIB + 1000
        )
        reply = client.pap(username, PASSWORD)
        assert reply.code == packet.AccessReject
        assert reply_value(reply, "Reply-Message") == "Data quota used up"


async def test_plan_data_quota_applies_and_user_quota_overrides_it(
    db: Database, radius_server: RadiusServer
) -> None:
    plan_user = await provision(db, plan_data_quota_bytes=2000)
    own_user = await provision(db, plan_data_quota_bytes=2000, data_quota_bytes=3000)
    with radius_server.client() as client:
        assert reply_value(client.pap(plan_user, PASSWORD), "Mikrotik-Total-Limit") == 2000
        assert reply_value(client.pap(own_user, PASSWORD), "Mikrotik-Total-Limit") == 3000


async def test_time_quota_caps_session_timeout_and_rejects_when_used(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db, expires_in=None, time_quota_s=600)
    with radius_server.client() as client:
        assert reply_value(client.pap(username, PASSWORD), "Session-Timeout") == 600
        client.accounting("Start", username, "time-1")
        client.accounting("Stop", username, "time-1", session_time_s=200)
        reply = client.pap(username, PASSWORD)
        assert reply.code == packet.AccessAccept
        assert reply_value(reply, "Session-Timeout") == 400
        client.accounting("Start", username, "time-2")
        client.accounting("Stop", username, "time-2", session_time_s=400)
        assert client.pap(username, PASSWORD).code == packet.AccessReject


async def test_time_quota_and_expiration_take_the_smaller_session_timeout(
    db: Database, radius_server: RadiusServer
) -> None:
    short_quota = await provision(db, expires_in=timedelta(hours=1), time_quota_s=900)
    short_expiry = await provision(db, expires_in=timedelta(minutes=10), time_quota_s=7200)
    with radius_server.client() as client:
        assert reply_value(client.pap(short_quota, PASSWORD), "Session-Timeout") == 900
        assert 590 <= reply_value(client.pap(short_expiry, PASSWORD), "Session-Timeout") <= 600


async def test_validity_after_first_login_counts_from_first_start(
    db: Database, radius_server: RadiusServer
) -> None:
    fresh = await provision(db, expires_in=None, valid_after_first_login_s=3600)
    started = await provision(db, expires_in=None, valid_after_first_login_s=3600)
    used_up = await provision(db, expires_in=None, valid_after_first_login_s=3600)
    now = int(time.time())
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress, "
            "acctstarttime, acctupdatetime, acctstoptime, acctsessiontime) "
            "VALUES (?, ?, ?, '127.0.0.1', ?, ?, ?, 60)",
            [
                ("v-1", f"u-{started}", started, now - 600, now - 540, now - 540),
                ("v-2", f"u-{used_up}", used_up, now - 4000, now - 3940, now - 3940),
            ],
        )
    with radius_server.client() as client:
        assert reply_value(client.pap(fresh, PASSWORD), "Session-Timeout") == 3600
        assert 2995 <= reply_value(client.pap(started, PASSWORD), "Session-Timeout") <= 3000
        assert client.pap(used_up, PASSWORD).code == packet.AccessReject


async def test_radpostauth_logs_attempts_without_password(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db)
    with radius_server.client() as client:
        assert client.pap(username, PASSWORD).code == packet.AccessAccept
        assert client.chap(username, PASSWORD).code == packet.AccessAccept
        assert client.pap(username, "wrong-pw").code == packet.AccessReject
    rows = await db.fetchall(
        "SELECT pass, reply FROM radpostauth WHERE username = ? ORDER BY id", (username,)
    )
    assert [row["reply"] for row in rows] == ["Access-Accept", "Access-Accept", "Access-Reject"]
    assert [row["pass"] for row in rows] == ["", "", ""]


async def test_radpostauth_failure_does_not_turn_accept_into_reject(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db)
    async with db.transaction() as conn:
        await conn.execute(
            "CREATE TRIGGER fail_postauth BEFORE INSERT ON radpostauth "
            "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
        )
    try:
        with radius_server.client() as client:
            assert client.pap(username, PASSWORD).code == packet.AccessAccept
            assert client.pap(username, "wrong-pw").code == packet.AccessReject
    finally:
        async with db.transaction() as conn:
            await conn.execute("DROP TRIGGER fail_postauth")
    rows = await db.fetchall("SELECT 1 FROM radpostauth WHERE username = ?", (username,))
    assert rows == []


async def test_set_user_again_replaces_password_and_plan(
    db: Database, radius_server: RadiusServer
) -> None:
    username = await provision(db)
    async with db.transaction() as conn:
        await set_plan_group(
            conn, "plan-fast", rate_limit="10M/10M", shared_devices=1, data_quota_bytes=None
        )
        await set_user(conn, username, "new-password", group="plan-fast", expires_at=None)
    with radius_server.client() as client:
        assert client.pap(username, PASSWORD).code == packet.AccessReject
        reply = client.pap(username, "new-password")
    assert reply.code == packet.AccessAccept
    assert reply_value(reply, "Mikrotik-Rate-Limit") == "10M/10M"


async def test_accepts_and_rejects_carry_message_authenticator(
    db: Database, radius_server: RadiusServer
) -> None:
    # RouterOS 7 ignores replies without one (require-message-auth); pyrad verifies its value.
    username = await provision(db, data_quota_bytes=1)
    used_up = await provision(db, data_quota_bytes=1)
    with radius_server.client() as client:
        client.accounting("Stop", used_up, "ma-1", input_octets=5)
        replies = [
            client.pap(username, PASSWORD),
            client.chap(username, PASSWORD),
            client.pap(username, "wrong-pw"),
            client.pap("nobody-at-all", PASSWORD),
            client.pap(used_up, PASSWORD),
        ]
    assert [reply.code for reply in replies] == [
        packet.AccessAccept,
        packet.AccessAccept,
        packet.AccessReject,
        packet.AccessReject,
        packet.AccessReject,
    ]
    assert all(reply.message_authenticator for reply in replies)
