"""Fixtures shared by every test package: a private Redis, settings, a migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from hotspotd.db import Database
from hotspotd.settings import Settings, settings_from_dict
from tests.support.redis_server import RedisServer, private_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the whole test session."""
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    """A Redis URL whose data is wiped before each test."""
    url = redis_server.url(0)
    client: Redis = Redis.from_url(url)
    await client.flushall()
    await client.aclose()
    yield url


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str) -> Callable[..., Settings]:
    """Build test Settings: database under tmp_path, the private Redis; override by section."""

    def make(**sections: dict[str, Any]) -> Settings:
        raw: dict[str, Any] = {
            "database": {"path": str(tmp_path / "hotspotd.sqlite3")},
            "redis": {"url": redis_url, "key_prefix": "test:"},
            "radius": {"local_secret": "hotspotd-test-local", "user": ""},
            "worker": {"poll_delay_s": 0.02},
            "routers": {"credentials_key": "CcQHejNP90oe2w5h3WNmh_dj7EXXZQrrnn8TAlnVS8E="},
        }
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        return settings_from_dict(raw)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings."""
    return make_settings()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A migrated database at settings.database.path."""
    db = await Database.open(settings.database.path)
    yield db
    await db.close()
