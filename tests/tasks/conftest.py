"""A private FreeRADIUS reading the test settings' database, one per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hotspotd.settings import Settings
from tests.support.freeradius import RadiusServer, freeradius_on_new_database


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A migrated database file and a FreeRADIUS reading it."""
    with freeradius_on_new_database(tmp_path_factory.mktemp("freeradius")) as server:
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
