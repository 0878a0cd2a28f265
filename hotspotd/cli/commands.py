"""The subcommands that run one part of the system."""

from __future__ import annotations

import argparse
import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotspotd.cli.errors import CommandError
from hotspotd.db import Database, DatabaseError, migration_scripts
from hotspotd.logging_config import configure_logging
from hotspotd.settings import Settings, load_settings
from portal.app import create_app
from radius.freeradius_config import RadiusConfigError, RadiusConfigParams, render_config
from tasks.worker import build_worker

logger = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    configure_logging(settings.logging.level)
    return settings


def redacted_url(url: str) -> str:
    """Return a URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _check_database(settings: Settings, *, migrate: bool) -> None:
    try:
        db = await Database.open(settings.database.path, migrate=migrate)
    except DatabaseError as exc:
        raise CommandError(str(exc)) from None
    try:
        version = await db.schema_version()
    finally:
        await db.close()
    latest = len(migration_scripts())
    if version < latest:
        raise CommandError(
            f"database {settings.database.path} is at version {version} of {latest}:"
            " run `hotspotd migrate`"
        )


async def _check_redis(settings: Settings) -> None:
    url = settings.redis.url.get_secret_value()
    client: Redis = Redis.from_url(url, socket_connect_timeout=settings.redis.connect_timeout_s)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise CommandError(f"cannot reach Redis at {redacted_url(url)}: {exc}") from None
    finally:
        await client.aclose()


async def _preflight(settings: Settings) -> None:
    await _check_database(settings, migrate=False)
    await _check_redis(settings)


def migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations (a no-op when up to date)."""
    settings = _settings(args)

    async def run() -> list[str]:
        try:
            db = await Database.open(settings.database.path, migrate=False)
        except DatabaseError as exc:
            raise CommandError(str(exc)) from None
        try:
            return await db.migrate()
        except DatabaseError as exc:
            raise CommandError(str(exc)) from None
        finally:
            await db.close()

    applied = asyncio.run(run())
    logger.info("database %s: %d migration(s) applied", settings.database.path, len(applied))
    return 0


def serve(args: argparse.Namespace) -> int:
    """Run the portal until SIGINT/SIGTERM."""
    settings = _settings(args)
    asyncio.run(_preflight(settings))
    logger.info("portal listening on http://%s:%d", settings.portal.host, settings.portal.port)
    web.run_app(
        create_app(settings),
        host=settings.portal.host,
        port=settings.portal.port,
        print=None,
        access_log=None,
    )
    return 0


def worker(args: argparse.Namespace) -> int:
    """Run the ARQ worker of one queue group until SIGINT/SIGTERM."""
    settings = _settings(args)
    asyncio.run(_preflight(settings))
    try:
        worker_ = build_worker(settings, args.queue)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    worker_.run()
    return 0


def radius_params(settings: Settings) -> RadiusConfigParams:
    """Map the settings onto the FreeRADIUS renderer's parameters."""
    radius = settings.radius
    return RadiusConfigParams(
        db_path=settings.database.path.resolve(),
        auth_port=radius.auth_port,
        acct_port=radius.acct_port,
        local_secret=radius.local_secret.get_secret_value(),
        log_dir=radius.log_dir,
        run_dir=radius.run_dir,
        listen_address=radius.listen_address,
        nas_networks=radius.nas_networks,
        client_lifetime_s=radius.client_lifetime_s,
        log_accepts=radius.log_accepts,
        # An empty user in TOML means: run as whoever starts FreeRADIUS.
        user=radius.user or None,
    )


def radius_config(args: argparse.Namespace) -> int:
    """Render the FreeRADIUS configuration directory."""
    settings = _settings(args)
    out = args.out or settings.radius.config_dir
    try:
        render_config(out, radius_params(settings))
    except (RadiusConfigError, OSError, ValueError) as exc:
        raise CommandError(f"cannot render FreeRADIUS config into {out}: {exc}") from None
    logger.info("FreeRADIUS configuration written to %s", out)
    return 0


def check_config(args: argparse.Namespace) -> int:
    """Validate the settings file; print nothing secret."""
    settings = _settings(args)
    logger.info("settings OK (database %s)", settings.database.path)
    return 0
