"""Starting and stopping FreeRADIUS, readiness, and the time zone it reads Expiration in."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyrad import packet

from radius.freeradius_config import RadiusConfigParams, render_config
from radius.freeradius_process import FreeradiusError, start_freeradius
from radius.status import check_radius
from radius.users import format_expiration
from tests.support.freeradius import (
    LOCAL_SECRET,
    RadiusTestClient,
    create_database,
    free_udp_port,
    reply_value,
)


def _render(base: Path, db_path: Path) -> tuple[Path, int, int]:
    auth_port, acct_port = free_udp_port(), free_udp_port()
    config_dir = base / "raddb"
    render_config(
        config_dir,
        RadiusConfigParams(
            db_path=db_path,
            auth_port=auth_port,
            acct_port=acct_port,
            local_secret=LOCAL_SECRET,
            log_dir=base / "log",
            run_dir=base / "run",
        ),
    )
    return config_dir, auth_port, acct_port


def _add_user(db_path: Path, username: str, expiration: str) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO radcheck (username, attribute, op, value) VALUES (?, ?, ':=', ?)",
            [(username, "Cleartext-Password", "pw-123"), (username, "Expiration", expiration)],
        )
    conn.close()


def _session_timeout(auth_port: int, acct_port: int, username: str) -> int | None:
    with RadiusTestClient(
        "127.0.0.1", auth_port=auth_port, acct_port=acct_port, secret=LOCAL_SECRET
    ) as client:
        reply = client.pap(username, "pw-123")
    if reply.code != packet.AccessAccept:
        return None
    return int(reply_value(reply, "Session-Timeout"))


async def test_expiration_written_in_utc_is_read_right_whatever_the_local_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = tmp_path / "db.sqlite"
    await create_database(db_path)
    config_dir, auth_port, acct_port = _render(tmp_path, db_path)
    _add_user(db_path, "tz-user", format_expiration(datetime.now(UTC) + timedelta(hours=1)))
    # The daemon may run in the operator's zone (UTC+3); FreeRADIUS must still read UTC.
    monkeypatch.setenv("TZ", "Africa/Nairobi")

    process = await start_freeradius(
        config_dir, host="127.0.0.1", auth_port=auth_port, local_secret=LOCAL_SECRET
    )
    try:
        timeout = await asyncio.to_thread(_session_timeout, auth_port, acct_port, "tz-user")
    finally:
        await process.stop()
    assert timeout is not None
    assert 3580 <= timeout <= 3600

    # The rendered config pins UTC itself (radiusd.conf ENV), so the Debian service reads the
    # dates right whatever its environment; without that block the date is read 3 hours early.
    in_nairobi = await _timeout_in_zone(config_dir, auth_port, acct_port, "Africa/Nairobi")
    assert in_nairobi is not None
    assert 3580 <= in_nairobi <= 3600
    radiusd = config_dir / "radiusd.conf"
    text = radiusd.read_text()
    env_block = text[text.index("ENV {") : text.index("}", text.index("ENV {")) + 1]
    radiusd.write_text(text.replace(env_block, ""))
    assert await _timeout_in_zone(config_dir, auth_port, acct_port, "Africa/Nairobi") is None


async def _timeout_in_zone(
    config_dir: Path, auth_port: int, acct_port: int, zone: str
) -> int | None:
    popen = subprocess.Popen(
        ["freeradius", "-f", "-l", "stdout", "-d", str(config_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TZ": zone},
    )
    try:
        for _ in range(100):
            if await check_radius("127.0.0.1", auth_port, LOCAL_SECRET, 0.2):
                break
            await asyncio.sleep(0.05)
        return await asyncio.to_thread(_session_timeout, auth_port, acct_port, "tz-user")
    finally:
        popen.terminate()
        popen.wait(5)


async def test_log_accepts_off_logs_only_rejects(tmp_path: Path) -> None:
    db_path = tmp_path / "db.sqlite"
    await create_database(db_path)
    auth_port, acct_port = free_udp_port(), free_udp_port()
    config_dir = tmp_path / "raddb"
    render_config(
        config_dir,
        RadiusConfigParams(
            db_path=db_path,
            auth_port=auth_port,
            acct_port=acct_port,
            local_secret=LOCAL_SECRET,
            log_dir=tmp_path / "log",
            run_dir=tmp_path / "run",
            log_accepts=False,
        ),
    )
    _add_user(db_path, "quiet-user", format_expiration(datetime.now(UTC) + timedelta(hours=1)))
    process = await start_freeradius(
        config_dir, host="127.0.0.1", auth_port=auth_port, local_secret=LOCAL_SECRET
    )
    try:
        with RadiusTestClient(
            "127.0.0.1", auth_port=auth_port, acct_port=acct_port, secret=LOCAL_SECRET
        ) as client:
            accepted = await asyncio.to_thread(client.pap, "quiet-user", "pw-123")
            rejected = await asyncio.to_thread(client.pap, "quiet-user", "wrong-pw")
    finally:
        await process.stop()
    assert accepted.code == packet.AccessAccept
    assert rejected.code == packet.AccessReject
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        rows = conn.execute("SELECT reply, pass FROM radpostauth").fetchall()
    assert rows == [("Access-Reject", "")]


async def test_stop_ends_the_process(tmp_path: Path) -> None:
    db_path = tmp_path / "db.sqlite"
    await create_database(db_path)
    config_dir, auth_port, _ = _render(tmp_path, db_path)
    process = await start_freeradius(
        config_dir, host="127.0.0.1", auth_port=auth_port, local_secret=LOCAL_SECRET
    )
    assert process.returncode is None
    assert await check_radius("127.0.0.1", auth_port, LOCAL_SECRET, 1.0)
    assert not await check_radius("127.0.0.1", auth_port, "wrong-secret", 0.3)
    await process.stop()
    assert process.returncode is not None
    assert "Ready to process requests" in process.output_tail(50)
    assert not await check_radius("127.0.0.1", auth_port, LOCAL_SECRET, 0.5)


async def test_start_failure_reports_freeradius_output(tmp_path: Path) -> None:
    # The database directory does not exist: the sql module cannot open the file.
    config_dir, auth_port, _ = _render(tmp_path, tmp_path / "missing" / "db.sqlite")
    with pytest.raises(FreeradiusError) as excinfo:
        await start_freeradius(
            config_dir, host="127.0.0.1", auth_port=auth_port, local_secret=LOCAL_SECRET
        )
    message = str(excinfo.value)
    assert "exited with status" in message
    assert "sqlite" in message.lower()


async def test_start_missing_executable_is_freeradius_error(tmp_path: Path) -> None:
    with pytest.raises(FreeradiusError, match="cannot run"):
        await start_freeradius(
            tmp_path,
            host="127.0.0.1",
            auth_port=free_udp_port(),
            local_secret=LOCAL_SECRET,
            executable="/nonexistent/freeradius",
        )


async def test_check_radius_closed_port_fails_fast() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await check_radius("127.0.0.1", free_udp_port(), LOCAL_SECRET, 2.0)
    # ICMP port-unreachable on the connected socket, not the 2 s timeout.
    assert loop.time() - started < 1.0
