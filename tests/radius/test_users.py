"""radius.users and radius.groups: the rows they write and the input they refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hotspotd.db import Database
from radius.groups import delete_plan_group, set_plan_group
from radius.users import delete_user, format_expiration, set_user, user_exists


def test_format_expiration_is_utc_with_english_month() -> None:
    nairobi = timezone(timedelta(hours=3))
    assert format_expiration(datetime(2026, 3, 5, 1, 2, 3, tzinfo=nairobi)) == (
        "Mar 04 2026 22:02:03"
    )
    assert format_expiration(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == (
        "Dec 31 2026 23:59:59"
    )


def test_format_expiration_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError):
        format_expiration(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "username", ["", "with space", "plus+sign", "a..b", "ends.", "x" * 65, "quote'", "at@realm"]
)
async def test_set_user_refuses_names_freeradius_cannot_look_up(
    db: Database, username: str
) -> None:
    async with db.transaction() as conn:
        with pytest.raises(ValueError):
            await set_user(conn, username, "pw-123", group="plan", expires_at=None)


@pytest.mark.parametrize("password", ["", "x" * 129, "tab\there"])
async def test_set_user_refuses_bad_passwords(db: Database, password: str) -> None:
    async with db.transaction() as conn:
        with pytest.raises(ValueError):
            await set_user(conn, "okname", password, group="plan", expires_at=None)


async def test_set_user_writes_and_replaces_rows(db: Database) -> None:
    expires = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with db.transaction() as conn:
        await set_user(
            conn,
            "rows-user",
            "first-pw",
            group="plan-a",
            expires_at=expires,
            data_quota_bytes=10,
            time_quota_s=20,
            valid_after_first_login_s=30,
        )
        await set_user(conn, "rows-user", "second-pw", group="plan-b", expires_at=expires)
        assert await user_exists(conn, "rows-user")
    checks = await db.fetchall(
        "SELECT attribute, op, value FROM radcheck WHERE username = 'rows-user' ORDER BY id"
    )
    assert [tuple(row) for row in checks] == [
        ("Cleartext-Password", ":=", "second-pw"),
        ("Expiration", ":=", "Jan 02 2030 03:04:05"),
    ]
    groups = await db.fetchall("SELECT groupname FROM radusergroup WHERE username = 'rows-user'")
    assert [row["groupname"] for row in groups] == ["plan-b"]
    async with db.transaction() as conn:
        await delete_user(conn, "rows-user")
        assert not await user_exists(conn, "rows-user")
    assert await db.fetchall("SELECT 1 FROM radusergroup WHERE username = 'rows-user'") == []


async def test_set_plan_group_writes_and_deletes_rows(db: Database) -> None:
    async with db.transaction() as conn:
        await set_plan_group(
            conn,
            "plan-rows",
            rate_limit="64k/64k 256k/256k 128k/128k 10/10",
            shared_devices=2,
            data_quota_bytes=5 << 30,
            interim_interval_s=120,
            idle_timeout_s=600,
        )
    checks = await db.fetchall(
        "SELECT attribute, op, value FROM radgroupcheck WHERE groupname = 'plan-rows' ORDER BY id"
    )
    assert [tuple(row) for row in checks] == [
        ("Simultaneous-Use", ":=", "2"),
        ("Hotspot-Plan-Data-Quota", ":=", str(5 << 30)),
    ]
    replies = await db.fetchall(
        "SELECT attribute, op, value FROM radgroupreply WHERE groupname = 'plan-rows' ORDER BY id"
    )
    assert [tuple(row) for row in replies] == [
        ("Acct-Interim-Interval", "=", "120"),
        ("Mikrotik-Rate-Limit", "=", "64k/64k 256k/256k 128k/128k 10/10"),
        ("Idle-Timeout", "=", "600"),
    ]
    async with db.transaction() as conn:
        await delete_plan_group(conn, "plan-rows")
    assert await db.fetchall("SELECT 1 FROM radgroupcheck WHERE groupname = 'plan-rows'") == []


@pytest.mark.parametrize(
    "changes",
    [
        {"rate_limit": "2M/5M; rm -rf"},
        {"rate_limit": "fast"},
        {"shared_devices": 0},
        {"data_quota_bytes": 0},
        {"interim_interval_s": 10},
        {"idle_timeout_s": 0},
    ],
)
async def test_set_plan_group_refuses_bad_values(db: Database, changes: dict[str, object]) -> None:
    values: dict[str, object] = {
        "rate_limit": "2M/5M",
        "shared_devices": 1,
        "data_quota_bytes": None,
    }
    values.update(changes)
    async with db.transaction() as conn:
        with pytest.raises(ValueError):
            await set_plan_group(conn, "plan-bad", **values)  # type: ignore[arg-type]
