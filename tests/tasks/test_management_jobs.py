"""Management job runner: transient faults retry with backoff, then fail with the reason."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.worker import Retry

from hotspotd.db import Database
from hotspotd.passwords import hash_password
from hotspotd.settings import Settings
from hotspotd.store import admins, jobs, tenants
from tasks import management
from tasks.context import DB, SETTINGS


@pytest.fixture
def settings(make_settings: Any, tmp_path: Any) -> Settings:
    """Own settings and database: this package's default ones are FreeRADIUS's shared file."""
    return make_settings(database={"path": str(tmp_path / "management.sqlite3")})  # type: ignore[no-any-return]


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """A migrated database of its own."""
    db = await Database.open(settings.database.path)
    yield db
    await db.close()


class _Recorder:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, channel: str, message: str) -> int:
        self.published.append(message)
        return 1


async def _setup(db: Database) -> tuple[int, int]:
    async with db.transaction() as conn:
        tenant = await tenants.create_tenant(conn, slug="acme", name="Acme")
        boss = await admins.create_admin(
            conn,
            tenant_id=tenant.id,
            username="boss",
            password_hash=hash_password("x", n=2),
            role="admin",
        )
    await jobs.insert_job(
        db, "job-1", "update_admin_user", {}, tenant_id=tenant.id, actor_id=boss.id
    )
    return tenant.id, boss.id


def _ctx(settings: Settings, db: Database, try_: int) -> dict[str, Any]:
    return {"job_id": "job-1", "job_try": try_, SETTINGS: settings, DB: db, "redis": _Recorder()}


async def test_transient_fault_retries_then_fails_with_reason(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, boss_id = await _setup(database)

    async def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(management.admins, "update_admin", locked)
    with pytest.raises(Retry) as retry:
        await management.update_admin_user(
            _ctx(settings, database, 1), actor_id=boss_id, admin_id=boss_id, status="active"
        )
    assert retry.value.defer_score == int(settings.worker.retry_backoff_s * 1000)
    job = await jobs.get_job(database, "job-1")
    assert job.state == "queued" and "database is locked" in (job.error or "")

    ctx = _ctx(settings, database, settings.worker.max_tries)
    result = await management.update_admin_user(
        ctx, actor_id=boss_id, admin_id=boss_id, status="active"
    )
    assert result["state"] == "failed"
    job = await jobs.get_job(database, "job-1")
    assert job.state == "failed"
    assert job.error is not None and job.error.startswith("gave up after 3 tries")
    assert any('"JobFailed"' in m for m in ctx["redis"].published)


async def test_unexpected_error_fails_without_leaking_details(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, boss_id = await _setup(database)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("internal detail")

    monkeypatch.setattr(management.admins, "update_admin", broken)
    result = await management.update_admin_user(
        _ctx(settings, database, 1), actor_id=boss_id, admin_id=boss_id, status="active"
    )
    assert result == {"state": "failed", "error": "internal error (KeyError)"}
