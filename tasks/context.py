"""What every job receives in ``ctx``: settings and the database, opened once per worker."""

from __future__ import annotations

from typing import Any, cast

from hotspotd.db import Database
from hotspotd.settings import Settings

SETTINGS = "settings"
DB = "db"


async def open_resources(ctx: dict[str, Any]) -> None:
    """Open the database for a worker process (arq on_startup)."""
    settings = cast(Settings, ctx[SETTINGS])
    # Migrations are applied by `hotspotd migrate`; a worker only opens the file.
    ctx[DB] = await Database.open(settings.database.path, migrate=False)


async def close_resources(ctx: dict[str, Any]) -> None:
    """Close what open_resources opened (arq on_shutdown)."""
    db = ctx.pop(DB, None)
    if db is not None:
        await db.close()


def job_settings(ctx: dict[str, Any]) -> Settings:
    """Return the settings from a job's ctx."""
    return cast(Settings, ctx[SETTINGS])


def job_db(ctx: dict[str, Any]) -> Database:
    """Return the database from a job's ctx."""
    return cast(Database, ctx[DB])
