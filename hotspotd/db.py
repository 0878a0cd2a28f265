"""The one SQLite database shared by the daemon and FreeRADIUS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

logger = logging.getLogger(__name__)

# FreeRADIUS reads this file concurrently; 5 s matches its own busy_timeout so
# neither side fails on a short write lock (see reference/freeradius.md).
BUSY_TIMEOUT_MS = 5000

Params = Sequence[Any] | dict[str, Any]


class DatabaseError(Exception):
    """The database file cannot be opened or migrated."""


def migration_scripts() -> list[tuple[int, str, str]]:
    """Return the shipped migrations as (number, name, sql), in order."""
    scripts = []
    for entry in resources.files("hotspotd.migrations").iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        number = int(name.split("_", 1)[0])
        scripts.append((number, name, entry.read_text(encoding="utf-8")))
    scripts.sort()
    numbers = [n for n, _, _ in scripts]
    if numbers != list(range(1, len(numbers) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..N: {numbers}")
    return scripts


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: autocommit, so transactions are exactly the
    # BEGIN IMMEDIATE ... COMMIT blocks written below.
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    # execute_fetchall finalises each statement: a PRAGMA left half-read
    # keeps a lock on the file.
    await conn.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await conn.execute_fetchall("PRAGMA foreign_keys = ON")
    # WAL with NORMAL is durable against process crashes and halves fsyncs.
    await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
    return conn


class Database:
    """One write connection serialised by a lock, one read connection."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating if needed) the database, in WAL mode, migrated."""
        path = Path(path)
        if not path.parent.is_dir():
            raise DatabaseError(f"database directory {path.parent} does not exist")
        try:
            writer = await _connect(path)
            # WAL is persistent in the file; FreeRADIUS cannot set it itself.
            await writer.execute_fetchall("PRAGMA journal_mode = WAL")
            reader = await _connect(path)
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open database {path}: {exc}") from exc
        db = cls(path, writer, reader)
        if migrate:
            try:
                await db.migrate()
            except BaseException:
                await db.close()
                raise
        return db

    async def close(self) -> None:
        """Close both connections."""
        await self._reader.close()
        await self._writer.close()

    async def schema_version(self) -> int:
        """Return the number of the last applied migration."""
        rows = list(await self._writer.execute_fetchall("PRAGMA user_version"))
        return int(rows[0][0]) if rows else 0

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names."""
        applied = []
        async with self._write_lock:
            current = await self.schema_version()
            for number, name, sql in migration_scripts():
                if number <= current:
                    continue
                # executescript runs the whole file; user_version is
                # transactional, so a failed migration leaves no trace.
                script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                try:
                    await self._writer.executescript(script)
                except sqlite3.Error as exc:
                    if self._writer.in_transaction:
                        await self._writer.rollback()
                    raise DatabaseError(f"migration {name} failed: {exc}") from exc
                logger.info("applied migration %s", name)
                applied.append(name)
        return applied

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run a short write transaction (BEGIN IMMEDIATE) on the write connection."""
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.rollback()
                raise
            else:
                await self._writer.commit()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows."""
        rows = await self._reader.execute_fetchall(sql, params)
        return list(rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run a read query and return the first row, or None."""
        rows = await self._reader.execute_fetchall(sql, params)
        for row in rows:
            return row
        return None

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for many rows in one write transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)
