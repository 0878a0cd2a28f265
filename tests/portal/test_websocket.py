"""The admin WebSocket: live events scoped by tenant and role, catch-up by id, several portals."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import aiohttp
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from hotspotd.db import Database
from hotspotd.events import Event, publish_event, record_event
from hotspotd.settings import Settings
from portal.app import create_app
from portal.websocket import HUB_KEY
from tests.portal.conftest import login, make_admin, make_tenant


async def _emit(db: Database, settings: Settings, type_: str, tenant_id: int | None) -> Event:
    async with db.transaction() as conn:
        event = await record_event(conn, type_, tenant_id=tenant_id, subject="test")
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value())
    await publish_event(cast(Any, redis), settings.redis.key_prefix, event)
    await redis.aclose()
    return event


async def _receive(
    ws: aiohttp.ClientWebSocketResponse, count: int, timeout_s: float = 10
) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(timeout_s):
        while len(events) < count:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            events.append(json.loads(msg.data))
    return events


async def _quiet(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 0.3) -> bool:
    try:
        async with asyncio.timeout(wait_s):
            await ws.receive()
    except TimeoutError:
        return True
    return False


async def _subscribed(client: TestClient[Any, Any]) -> None:
    app = cast(Any, client.server).app
    await asyncio.wait_for(app[HUB_KEY].subscribed.wait(), 10)


async def test_ws_relays_only_the_tenants_events(
    client: TestClient[Any, Any], aiohttp_client: Any, settings: Settings, database: Database
) -> None:
    a = await make_tenant(database, "tenant-a")
    b = await make_tenant(database, "tenant-b")
    await make_admin(database, "a-staff", "staff", a)
    await make_admin(database, "root", "system")
    root_client = await aiohttp_client(client.server)
    await login(client, "a-staff")
    await login(root_client, "root")
    await _subscribed(client)
    ws_a = await client.ws_connect("/api/ws")
    ws_root = await root_client.ws_connect("/api/ws")
    await _emit(database, settings, "UserCreated", b)
    mine = await _emit(database, settings, "UserCreated", a)
    await _emit(database, settings, "TenantCreated", None)
    got = await _receive(ws_a, 1)
    assert [e["id"] for e in got] == [mine.id]
    assert await _quiet(ws_a)
    all_three = await _receive(ws_root, 3)
    assert [e["tenant_id"] for e in all_three] == [b, a, None]
    await ws_a.close()
    await ws_root.close()


async def test_ws_catches_up_from_the_events_table(
    client: TestClient[Any, Any], settings: Settings, database: Database
) -> None:
    a = await make_tenant(database, "tenant-a")
    b = await make_tenant(database, "tenant-b")
    await make_admin(database, "a-admin", "admin", a)
    await login(client, "a-admin")
    await _subscribed(client)
    first = await _emit(database, settings, "UserCreated", a)
    await _emit(database, settings, "UserCreated", b)
    missed = await _emit(database, settings, "UserUpdated", a)
    ws = await client.ws_connect(f"/api/ws?after={first.id}")
    got = await _receive(ws, 1)
    assert [e["id"] for e in got] == [missed.id]
    live = await _emit(database, settings, "UserDeleted", a)
    got = await _receive(ws, 1)
    assert [e["id"] for e in got] == [live.id]
    await ws.close()


async def test_ws_every_portal_process_gets_every_event(
    settings: Settings, database: Database, aiohttp_client: Any
) -> None:
    a = await make_tenant(database, "tenant-a")
    await make_admin(database, "a-admin", "admin", a)
    # Two portal applications, each with its own Redis subscription, like two processes.
    one = await aiohttp_client(create_app(settings))
    two = await aiohttp_client(create_app(settings))
    sockets = []
    for client in (one, two):
        await login(client, "a-admin")
        await _subscribed(client)
        sockets.append(await client.ws_connect("/api/ws"))
    event = await _emit(database, settings, "UserCreated", a)
    for ws in sockets:
        got = await _receive(ws, 1)
        assert got[0]["id"] == event.id
        await ws.close()


async def test_ws_refuses_other_origins_and_closes_when_the_session_ends(
    client: TestClient[Any, Any], settings: Settings, database: Database
) -> None:
    a = await make_tenant(database, "tenant-a")
    admin = await make_admin(database, "a-admin", "admin", a)
    await login(client, "a-admin")
    await _subscribed(client)
    resp = await client.get("/api/ws", headers={"Origin": "http://evil.example"})
    assert resp.status == 403
    ws = await client.ws_connect("/api/ws")
    async with database.transaction() as conn:
        await conn.execute("DELETE FROM admin_sessions WHERE admin_id = ?", (admin.id,))
        event = await record_event(
            conn, "PasswordChanged", tenant_id=a, payload={"admin_id": admin.id}
        )
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value())
    await publish_event(cast(Any, redis), settings.redis.key_prefix, event)
    await redis.aclose()
    await _receive(ws, 1)
    async with asyncio.timeout(10):
        msg = await ws.receive()
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await ws.close()
