"""Fixtures for the admin panel: the real app, a real management worker, admins to act as."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from redis.asyncio import Redis

from hotspotd.db import Database
from hotspotd.events import events_channel
from hotspotd.passwords import hash_password
from hotspotd.settings import Settings
from hotspotd.store import admins, jobs, tenants
from hotspotd.store.admins import Admin, Role
from portal.app import create_app
from tests.support.worker import running_worker

# Low scrypt cost: tests hash many passwords; the format carries the cost anyway.
TEST_SCRYPT_N = 1024
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Test settings with cheap password hashing and registration open."""
    return make_settings(
        auth={"password_scrypt_n": TEST_SCRYPT_N},
        portal={"registration_open": True},
    )


@contextlib.asynccontextmanager
async def management_worker(settings: Settings) -> AsyncIterator[Worker]:
    """Run the management queue's real arq worker in this event loop."""
    async with running_worker(settings, "management") as worker:
        yield worker


@pytest.fixture
async def worker(settings: Settings, database: Database) -> AsyncIterator[Worker]:
    """The management worker, running for the test."""
    async with management_worker(settings) as w:
        yield w


@pytest.fixture
async def app(settings: Settings, database: Database) -> web.Application:
    """The portal application (database migrated first)."""
    return create_app(settings)


@pytest.fixture
async def client(
    app: web.Application, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> TestClient[Any, Any]:
    """A test client of the real app."""
    return await aiohttp_client(app)


async def make_admin(
    db: Database,
    username: str,
    role: Role,
    tenant_id: int | None = None,
    password: str = PASSWORD,
) -> Admin:
    """Create an admin directly in the database."""
    async with db.transaction() as conn:
        return await admins.create_admin(
            conn,
            tenant_id=tenant_id,
            username=username,
            password_hash=hash_password(password, n=TEST_SCRYPT_N),
            role=role,
        )


async def make_tenant(db: Database, slug: str) -> int:
    """Create a tenant directly; return its id."""
    async with db.transaction() as conn:
        tenant = await tenants.create_tenant(conn, slug=slug, name=slug.title())
    return tenant.id


async def anon_csrf(client: TestClient[Any, Any]) -> str:
    """Return the pre-session CSRF token (and keep its cookie in the client)."""
    resp = await client.get("/api/csrf")
    assert resp.status == 200
    token: str = (await resp.json())["csrf_token"]
    return token


async def login(client: TestClient[Any, Any], username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; return the session's CSRF token."""
    token = await anon_csrf(client)
    resp = await client.post(
        "/api/login",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status == 200, await resp.text()
    csrf: str = (await resp.json())["csrf_token"]
    return csrf


async def wait_job(db: Database, job_id: str, timeout_s: float = 30.0) -> jobs.JobRecord:
    """Wait until a job is done or failed; return its record."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = await jobs.get_job(db, job_id)
        if job.state in ("done", "failed"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} not finished within {timeout_s} s")


@dataclass
class EventListener:
    """Collect events published on the events channel."""

    pubsub: Any
    seen: list[dict[str, Any]]

    async def next(self, type_: str, timeout_s: float = 30.0, **match: Any) -> dict[str, Any]:
        """Return the next published event of a type whose payload matches."""
        for event in self.seen:
            if event["type"] == type_ and all(
                event["payload"].get(k) == v for k, v in match.items()
            ):
                self.seen.remove(event)
                return event
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is None:
                continue
            event: dict[str, Any] = json.loads(message["data"])
            if event["type"] == type_ and all(
                event["payload"].get(k) == v for k, v in match.items()
            ):
                return event
            self.seen.append(event)
        raise AssertionError(f"no {type_} event {match} within {timeout_s} s")


@pytest.fixture
async def events(settings: Settings) -> AsyncIterator[EventListener]:
    """Subscribe to the events channel for the test."""
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value())
    pubsub = redis.pubsub()
    await pubsub.subscribe(events_channel(settings.redis.key_prefix))
    yield EventListener(pubsub, [])
    await pubsub.aclose()
    await redis.aclose()


@pytest.fixture
async def portal_url(settings: Settings, database: Database) -> AsyncIterator[str]:
    """The portal served for real on a free port."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
