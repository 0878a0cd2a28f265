"""The nas table helpers and routers added while FreeRADIUS runs (dynamic clients)."""

from __future__ import annotations

import pytest
from pyrad import packet
from pyrad.client import Timeout

from hotspotd.db import Database
from radius.groups import set_plan_group
from radius.nas import add_nas, get_nas, list_nas, remove_nas
from radius.users import set_user
from tests.support.freeradius import RadiusServer, reply_value

ROUTER_SECRET = "router-secret-1"


async def test_add_get_remove_nas(db: Database) -> None:
    async with db.transaction() as conn:
        first_id = await add_nas(
            conn, ip="192.0.2.50", secret="first-secret", shortname="r1", description="lobby"
        )
        # Registering the same address again replaces the row.
        second_id = await add_nas(conn, ip="192.0.2.50", secret="second-secret", shortname="r1b")
    assert second_id != first_id
    nas = await get_nas(db, "192.0.2.50")
    assert nas is not None
    assert (nas.ip, nas.secret, nas.shortname, nas.type) == (
        "192.0.2.50",
        "second-secret",
        "r1b",
        "other",
    )
    assert [n.ip for n in await list_nas(db)].count("192.0.2.50") == 1
    async with db.transaction() as conn:
        assert await remove_nas(conn, "192.0.2.50") is True
        assert await remove_nas(conn, "192.0.2.50") is False
    assert await get_nas(db, "192.0.2.50") is None


@pytest.mark.parametrize(
    ("ip", "secret", "shortname"),
    [
        ("not-an-ip", "long-enough", "r"),
        ("192.0.2.1", "short", "r"),
        ("192.0.2.1", 'has"quote', "r"),
        ("192.0.2.1", "long-enough", ""),
        ("192.0.2.1", "long-enough", "x" * 33),
    ],
)
async def test_add_nas_rejects_bad_input(
    db: Database, ip: str, secret: str, shortname: str
) -> None:
    async with db.transaction() as conn:
        with pytest.raises(ValueError):
            await add_nas(conn, ip=ip, secret=secret, shortname=shortname)


async def _provision(db: Database, username: str) -> None:
    async with db.transaction() as conn:
        await set_plan_group(
            conn, "nas-plan", rate_limit="1M/2M", shared_devices=5, data_quota_bytes=None
        )
        await set_user(conn, username, "router-user-pw", group="nas-plan", expires_at=None)


async def test_nas_added_at_runtime_is_a_client_without_restart(
    db: Database, radius_server: RadiusServer
) -> None:
    await _provision(db, "via-router-2")
    async with db.transaction() as conn:
        await add_nas(conn, ip="127.0.0.2", secret=ROUTER_SECRET, shortname="router-2")
    with radius_server.client(bind_address="127.0.0.2", secret=ROUTER_SECRET) as router:
        reply = router.chap("via-router-2", "router-user-pw")
        assert reply.code == packet.AccessAccept
        assert reply_value(reply, "Mikrotik-Rate-Limit") == "1M/2M"
        assert router.accounting("Start", "via-router-2", "r2-1").code == (
            packet.AccountingResponse
        )
    rows = await db.fetchall(
        "SELECT nasipaddress FROM radacct WHERE acctsessionid = 'r2-1' AND username = ?",
        ("via-router-2",),
    )
    assert [row["nasipaddress"] for row in rows] == ["127.0.0.2"]


async def test_unknown_router_gets_no_answer_until_registered(
    db: Database, radius_server: RadiusServer
) -> None:
    await _provision(db, "via-router-3")
    with radius_server.client(
        bind_address="127.0.0.3", secret=ROUTER_SECRET, timeout_s=0.5
    ) as router:
        with pytest.raises(Timeout):
            router.pap("via-router-3", "router-user-pw")
        async with db.transaction() as conn:
            await add_nas(conn, ip="127.0.0.3", secret=ROUTER_SECRET, shortname="router-3")
        assert router.pap("via-router-3", "router-user-pw").code == packet.AccessAccept


async def test_router_with_wrong_secret_is_ignored(
    db: Database, radius_server: RadiusServer
) -> None:
    await _provision(db, "via-router-4")
    async with db.transaction() as conn:
        await add_nas(conn, ip="127.0.0.4", secret=ROUTER_SECRET, shortname="router-4")
    with (
        radius_server.client(
            bind_address="127.0.0.4", secret="not-the-secret", timeout_s=0.5
        ) as router,
        pytest.raises(Timeout),
    ):
        router.pap("via-router-4", "router-user-pw")
