"""Fixtures for tests against a real private FreeRADIUS (one per test module)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotspotd.db import Database
from tests.support.freeradius import RadiusServer, private_freeradius


async def _migrate(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A migrated database and a FreeRADIUS reading it, shared by the tests of a module."""
    base = tmp_path_factory.mktemp("freeradius")
    db_path = base / "hotspotd.sqlite"
    asyncio.run(_migrate(db_path))
    with private_freeradius(base, db_path) as server:
        yield server


@pytest.fixture
async def db(radius_server: RadiusServer) -> AsyncIterator[Database]:
    """The daemon's Database on the file FreeRADIUS reads."""
    database = await Database.open(radius_server.db_path)
    yield database
    await database.close()
