"""/healthz reports database, Redis and FreeRADIUS, and answers 503 when one is down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotspotd.settings import Settings
from portal.app import create_app
from tests.support.freeradius import RadiusServer, freeradius_on_new_database
from tests.support.redis_server import private_redis

Client = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A FreeRADIUS on a migrated database."""
    with freeradius_on_new_database(tmp_path_factory.mktemp("health")) as server:
        yield server


def _settings(
    make_settings: Callable[..., Settings], radius: RadiusServer, **extra: Any
) -> Settings:
    return make_settings(
        database={"path": str(radius.db_path)},
        radius={
            "auth_port": radius.auth_port,
            "acct_port": radius.acct_port,
            "local_secret": radius.secret,
        },
        **extra,
    )


async def test_health_all_up_is_200(
    make_settings: Callable[..., Settings], radius_server: RadiusServer, aiohttp_client: Client
) -> None:
    client = await aiohttp_client(create_app(_settings(make_settings, radius_server)))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "radius": "ok"},
    }


async def test_health_radius_down_is_503(
    make_settings: Callable[..., Settings], radius_server: RadiusServer, aiohttp_client: Client
) -> None:
    # A wrong secret: FreeRADIUS drops the Status-Server, as if it were not there.
    settings = make_settings(
        database={"path": str(radius_server.db_path)},
        radius={"auth_port": radius_server.auth_port, "local_secret": "not-the-secret"},
    )
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/healthz")
    assert resp.status == 503
    body = await resp.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "radius": "down"}


async def test_health_redis_lost_after_start_is_503(
    make_settings: Callable[..., Settings],
    radius_server: RadiusServer,
    aiohttp_client: Client,
    tmp_path: Path,
) -> None:
    with private_redis(tmp_path / "redis") as redis:
        settings = _settings(make_settings, radius_server, redis={"url": redis.url()})
        client = await aiohttp_client(create_app(settings))
        assert (await client.get("/healthz")).status == 200
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["checks"] == {"database": "ok", "redis": "down", "radius": "ok"}
