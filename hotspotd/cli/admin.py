"""`hotspotd create-admin`: make a system admin (the box owner) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import re
import sys
from typing import Any, cast

from redis.asyncio import Redis

from hotspotd.cli.errors import CommandError
from hotspotd.db import Database, DatabaseError
from hotspotd.events import publish_event, record_event
from hotspotd.logging_config import configure_logging
from hotspotd.passwords import hash_password
from hotspotd.settings import Settings, load_settings
from hotspotd.store import admins
from hotspotd.store.errors import Conflict

logger = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add create-admin's options."""
    parser.add_argument("--username", required=True, help="the new system admin's user name")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of prompting",
    )


def _read_password(args: argparse.Namespace, minimum: int) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise CommandError("the passwords differ")
    if len(password) < minimum:
        raise CommandError(f"the password needs at least {minimum} characters")
    return password


async def _create(settings: Settings, username: str, password_hash: str) -> int:
    try:
        db = await Database.open(settings.database.path, migrate=False)
    except DatabaseError as exc:
        raise CommandError(str(exc)) from None
    try:
        async with db.transaction() as conn:
            try:
                admin = await admins.create_admin(
                    conn,
                    tenant_id=None,
                    username=username,
                    password_hash=password_hash,
                    role="system",
                )
            except Conflict as exc:
                raise CommandError(str(exc)) from None
            event = await record_event(
                conn,
                "UserCreated",
                tenant_id=None,
                subject=f"admin:{admin.id}",
                payload={"admin_id": admin.id, "username": admin.username, "role": "system"},
            )
    except Exception as exc:
        if "no such table" in str(exc):
            raise CommandError("the database is not migrated: run `hotspotd migrate`") from None
        raise
    finally:
        await db.close()
    # Best effort: a running panel shows the new admin live; the table has it anyway.
    redis: Redis = Redis.from_url(settings.redis.url.get_secret_value(), socket_connect_timeout=1.0)
    try:
        # cast: redis-py's publish signature is wider than events.Publisher.
        await publish_event(cast(Any, redis), settings.redis.key_prefix, event)
    finally:
        await redis.aclose()
    return admin.id


def create_admin(args: argparse.Namespace) -> int:
    """Create a system admin; the password is prompted for (or read from stdin)."""
    settings = load_settings(args.config)
    configure_logging(settings.logging.level)
    username = args.username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise CommandError("user name: 3-32 letters, digits, '.', '_' or '-'")
    password = _read_password(args, settings.auth.password_min_length)
    password_hash = hash_password(password, n=settings.auth.password_scrypt_n)
    admin_id = asyncio.run(_create(settings, username, password_hash))
    logger.info("system admin %s created (id %d)", username, admin_id)
    return 0
