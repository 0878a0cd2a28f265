"""A private FreeRADIUS reading the test settings' database, one per test module."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hotspotd.db import Database
from hotspotd.settings import Settings
from tests.support.freeradius import RadiusServer, private_freeradius


async def _migrate(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A migrated database file and a FreeRADIUS reading it."""
    base = tmp_path_factory.mktemp("freeradius")
    db_path = base / "hotspotd.sqlite3"
    asyncio.run(_migrate(db_path))
    with private_freeradius(base, db_path) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], radius_server: RadiusServer) -> Settings:
    """Settings whose database is the one FreeRADIUS reads."""
    return make_settings(
        database={"path": str(radius_server.db_path)},
        radius={
            "auth_port": radius_server.auth_port,
            "acct_port": radius_server.acct_port,
            "local_secret": radius_server.secret,
        },
    )
