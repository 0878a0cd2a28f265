"""Router sync and kick against simulated routers (local hotspot users, so no RADIUS needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis, create_pool

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import routers as router_store
from hotspotd.store.admins import Actor
from hotspotd.timeutil import now_s
from radius.accounting import nas_open_sessions, user_sessions
from routers.registration import RouterRegistration, register_router
from routers.simulator.run import RunningRouter
from tasks.router_enqueue import enqueue_kick_session, enqueue_sync_router
from tasks.routers import LOST_STOP_CAUSE, kick_router_session, sync_all_routers
from tasks.worker import redis_settings
from tests.routers.conftest import ROUTER_PASSWORD, StartRouter
from tests.support.fake_radius import wait_until
from tests.support.worker import running_worker


async def _registered(
    db: Database, settings: Settings, actor: Actor, router: RunningRouter
) -> router_store.Router:
    request = RouterRegistration(
        name=f"site-{router.config.identity}",
        host=router.address,
        api_port=router.api_port,
        username="admin",
        password=ROUTER_PASSWORD,  # type: ignore[arg-type]
    )
    registered = await register_router(db, settings, actor, request)
    return registered.router


async def _local_login(router: RunningRouter, count: int) -> list[Any]:
    """Log clients in against the router's own user list (RADIUS switched off again)."""
    model = router.router
    profiles = model.menu("/ip/hotspot/profile")
    for profile in profiles.items():
        profiles.set(profile[".id"], {"use-radius": "no"})
    clients = []
    for n in range(count):
        model.menu("/ip/hotspot/user").add({"name": f"local{n}", "password": "pw"})
        client = router.arrive()
        assert (await client.login(f"local{n}", "pw")).ok
        clients.append(client)
    return clients


async def _insert_radacct(
    db: Database, nas_ip: str, username: str, framed_ip: str, started_ago_s: int
) -> int:
    start = now_s() - started_ago_s
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress,"
            " framedipaddress, acctstarttime, acctupdatetime, acctsessiontime)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (f"s-{username}", f"u-{username}-{nas_ip}", username, nas_ip, framed_ip, start, start),
        )
        row_id = cursor.lastrowid
        await cursor.close()
    assert row_id is not None
    return row_id


async def _event_types(db: Database, router_id: int) -> list[str]:
    rows = await db.fetchall(
        "SELECT type FROM events WHERE subject = ? ORDER BY id", (f"router:{router_id}",)
    )
    return [row["type"] for row in rows]


async def test_sync_stores_resource_and_sessions_and_closes_lost_stops(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    router = await box_router()
    stored = await _registered(box_db, box_settings, box_admin, router)
    clients = await _local_login(router, 3)
    live = clients[0]
    # radacct: one row for a live session, one whose Stop was lost, one that just started.
    kept = await _insert_radacct(box_db, router.address, "local0", live.ip, 600)
    lost = await _insert_radacct(box_db, router.address, "gone-user", "10.5.50.200", 600)
    fresh = await _insert_radacct(box_db, router.address, "new-user", "10.5.50.201", 5)
    # A Start without Framed-IP-Address: matched by user name.
    no_ip = await _insert_radacct(box_db, router.address, "local1", "", 600)
    router.router.cpu_load = 42

    summary = await sync_all_routers(box_db, box_settings)

    result = next(r for r in summary.results if r.router_id == stored.id)
    assert result.online and result.sessions == 3 and result.closed_lost == 1
    after = await router_store.get_router(box_db, box_admin, stored.id)
    assert after.status == "online" and after.session_count == 3
    assert after.resource is not None and after.resource["cpu_load"] == 42
    sessions = await router_store.list_sessions(box_db, box_admin, router_id=stored.id)
    assert sorted(s.username for s in sessions) == ["local0", "local1", "local2"]
    first = next(s for s in sessions if s.username == "local0")
    assert (first.address, first.mac) == (live.ip, live.mac)
    assert first.item_id.startswith("*")
    open_ids = {row.radacct_id for row in await nas_open_sessions(box_db, router.address)}
    assert open_ids == {kept, fresh, no_ip}
    closed = (await user_sessions(box_db, "gone-user"))[0]
    assert closed.radacct_id == lost and closed.terminate_cause == LOST_STOP_CAUSE

    # A session that ended disappears at the next sync.
    await clients[1].logout()
    await sync_all_routers(box_db, box_settings)
    sessions = await router_store.list_sessions(box_db, box_admin, router_id=stored.id)
    assert sorted(s.username for s in sessions) == ["local0", "local2"]


async def test_sync_marks_a_hanging_router_offline_without_delaying_others(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    good = await box_router()
    stuck = await box_router()
    good_row = await _registered(box_db, box_settings, box_admin, good)
    stuck_row = await _registered(box_db, box_settings, box_admin, stuck)
    stuck.api.drop_connections()
    stuck.api.hang = True

    started = time.monotonic()
    summary = await sync_all_routers(box_db, box_settings)
    elapsed = time.monotonic() - started

    # One connect timeout (1 s), not one per router in turn.
    assert elapsed < box_settings.routers.connect_timeout_s + 1.0
    by_id = {r.router_id: r for r in summary.results}
    assert by_id[good_row.id].online
    assert not by_id[stuck_row.id].online
    assert "no answer" in (by_id[stuck_row.id].error or "")
    offline = await router_store.get_router(box_db, box_admin, stuck_row.id)
    assert offline.status == "offline" and offline.last_error
    assert await _event_types(box_db, stuck_row.id) == ["RouterRegistered", "RouterOffline"]

    # Offline once is one event; back online is another.
    await sync_all_routers(box_db, box_settings)
    stuck.api.hang = False
    await sync_all_routers(box_db, box_settings)
    assert await _event_types(box_db, stuck_row.id) == [
        "RouterRegistered",
        "RouterOffline",
        "RouterOnline",
    ]
    assert (await router_store.get_router(box_db, box_admin, stuck_row.id)).status == "online"


async def test_kick_falls_back_to_api_removal_when_disconnect_gets_no_answer(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    router = await box_router()
    stored = await _registered(box_db, box_settings, box_admin, router)
    (client,) = await _local_login(router, 1)
    # The router stops listening for Disconnect-Request: the API must do it.
    router.router.menu("/radius/incoming").set("", {"accept": "no"})
    await wait_until(lambda: router.incoming_port is None)
    await sync_all_routers(box_db, box_settings)

    result = await kick_router_session(box_db, box_settings, stored.id, "local0", client.ip)

    assert result.kicked and result.method == "api"
    assert not client.logged_in
    assert router.sessions.ended[-1].end_cause == "Admin-Reset"
    assert await router_store.list_sessions(box_db, box_admin, router_id=stored.id) == []
    assert (await _event_types(box_db, stored.id))[-1] == "SessionKicked"


async def test_kick_of_an_unknown_session_is_recorded_as_failed(
    box_settings: Settings, box_db: Database, box_admin: Actor, box_router: StartRouter
) -> None:
    router = await box_router()
    stored = await _registered(box_db, box_settings, box_admin, router)

    result = await kick_router_session(box_db, box_settings, stored.id, "nobody", "10.5.50.99")

    assert not result.kicked
    assert result.error is not None and "no such active session" in result.error
    row = await box_db.fetchone(
        "SELECT type, payload FROM events WHERE subject = ? ORDER BY id DESC LIMIT 1",
        (f"router:{stored.id}",),
    )
    assert row is not None and row["type"] == "SessionKickFailed"
    assert "nobody" in row["payload"]


@pytest.fixture
async def box_arq(box_settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(box_settings))
    yield pool
    await pool.aclose()


async def test_worker_cron_syncs_and_jobs_sync_and_kick(
    box_settings: Settings,
    box_db: Database,
    box_admin: Actor,
    box_router: StartRouter,
    box_arq: ArqRedis,
) -> None:
    router = await box_router()
    stored = await _registered(box_db, box_settings, box_admin, router)
    async with box_db.transaction() as conn:
        await router_store.record_offline(conn, stored.id, "test: pretend it was down")
    (client,) = await _local_login(router, 1)

    async def status() -> str:
        return (await router_store.get_router(box_db, box_admin, stored.id)).status

    async with running_worker(box_settings, "general"):
        # The cron runs at start-up: the router is seen online with its session.
        for _ in range(100):
            if await status() == "online":
                break
            await asyncio.sleep(0.05)
        assert await status() == "online"
        assert len(await router_store.list_sessions(box_db, box_admin)) >= 1
        # On demand: a new session shows up after an explicit sync job.
        client.leave()
        job_id = await enqueue_sync_router(box_arq, box_settings, stored.id)
        assert job_id == f"sync-router:{stored.id}"
        for _ in range(100):
            if not await router_store.list_sessions(box_db, box_admin, router_id=stored.id):
                break
            await asyncio.sleep(0.05)
        assert await router_store.list_sessions(box_db, box_admin, router_id=stored.id) == []

    client = router.arrive()
    assert (await client.login("local0", "pw")).ok
    async with running_worker(box_settings, "critical"):
        job_id = await enqueue_kick_session(box_arq, box_settings, stored.id, "local0", client.ip)
        await wait_until(lambda: not client.logged_in, timeout_s=10)
    assert job_id == f"kick:{stored.id}:local0:{client.ip}"
