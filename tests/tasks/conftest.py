"""A private FreeRADIUS reading the test settings' database, one per test module."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from arq.connections import ArqRedis, create_pool

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store.tenants import Tenant
from tasks.worker import redis_settings
from tests.support.domain import make_tenant
from tests.support.freeradius import RadiusServer, freeradius_on_new_database
from tests.support.hotspot_box import box_settings_for


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


# End-to-end fixtures (FreeRADIUS + simulator + worker) shared by the expiry and voucher tests.
_SLUGS = (f"op{n}" for n in itertools.count(1))


@pytest.fixture
def e2e_settings(make_settings: Callable[..., Settings], radius_server: RadiusServer) -> Settings:
    """Settings for a box with routers: the module's FreeRADIUS, short router timeouts."""
    return box_settings_for(make_settings, radius_server)


@pytest.fixture
async def e2e_db(e2e_settings: Settings) -> AsyncIterator[Database]:
    """The database FreeRADIUS reads."""
    db = await Database.open(e2e_settings.database.path)
    yield db
    await db.close()


@pytest.fixture
async def arq_pool(e2e_settings: Settings) -> AsyncIterator[ArqRedis]:
    """An arq Redis pool to enqueue with."""
    pool = await create_pool(redis_settings(e2e_settings))
    yield pool
    await pool.aclose()


@pytest.fixture
async def tenant(e2e_db: Database) -> Tenant:
    """A fresh tenant (the module's database is shared between tests)."""
    return await make_tenant(e2e_db, next(_SLUGS))
