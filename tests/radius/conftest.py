"""Fixtures for tests against a real private FreeRADIUS (one per test module)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from hotspotd.db import Database
from tests.support.freeradius import RadiusServer, freeradius_on_new_database


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A migrated database and a FreeRADIUS reading it, shared by the tests of a module."""
    with freeradius_on_new_database(tmp_path_factory.mktemp("freeradius")) as server:
        yield server


@pytest.fixture
async def db(radius_server: RadiusServer) -> AsyncIterator[Database]:
    """The daemon's Database on the file FreeRADIUS reads."""
    database = await Database.open(radius_server.db_path)
    yield database
    await database.close()
