"""Rendering of the FreeRADIUS configuration (test instance and Debian service layout)."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pyrad import packet

from radius.freeradius_config import (
    RadiusConfigError,
    RadiusConfigParams,
    check_config,
    render_config,
)
from radius.freeradius_process import start_freeradius
from tests.support.freeradius import LOCAL_SECRET, RadiusTestClient, create_database, free_udp_port


def _params(base: Path, **changes: object) -> RadiusConfigParams:
    params = RadiusConfigParams(
        db_path=base / "db.sqlite",
        auth_port=free_udp_port(),
        acct_port=free_udp_port(),
        local_secret=LOCAL_SECRET,
        log_dir=base / "log",
        run_dir=base / "run",
    )
    return replace(params, **changes)  # type: ignore[arg-type]


def test_render_twice_gives_a_valid_config(tmp_path: Path) -> None:
    params = _params(tmp_path)
    render_config(tmp_path / "raddb", params)
    render_config(tmp_path / "raddb", params)
    check_config(tmp_path / "raddb")
    enabled = sorted(p.name for p in (tmp_path / "raddb/sites-enabled").iterdir())
    assert enabled == ["hotspotd", "hotspotd-clients"]
    assert not (tmp_path / "raddb/mods-enabled/eap").exists()
    assert (tmp_path / "raddb/mods-enabled/hotspotd_sql").resolve().is_file()


def test_check_config_reports_freeradius_errors(tmp_path: Path) -> None:
    render_config(tmp_path / "raddb", _params(tmp_path))
    site = tmp_path / "raddb/sites-available/hotspotd"
    site.write_text(site.read_text().replace("authorize {", "authorize {\n\t\tno_such_module", 1))
    with pytest.raises(RadiusConfigError, match="no_such_module"):
        check_config(tmp_path / "raddb")


def test_render_fixes_the_stock_sqlite_queries(tmp_path: Path) -> None:
    render_config(tmp_path / "raddb", _params(tmp_path))
    queries = (tmp_path / "raddb/mods-config/sql/main/sqlite/hotspotd-queries.conf").read_text()
    assert "'%{${group_attribute}}'" not in queries.split("simul_verify_query")[1].split('"')[1]
    assert "User-Password" not in queries.split("post-auth {")[1]
    site = (tmp_path / "raddb/sites-available/hotspotd").read_text()
    assert "ipv6addr" not in site
    sql = (tmp_path / "raddb/mods-available/hotspotd_sql").read_text()
    assert "busy_timeout = 5000" in sql
    assert 'open_query = "PRAGMA synchronous=NORMAL"' in sql
    radiusd = (tmp_path / "raddb/radiusd.conf").read_text()
    assert "reject_delay = 0" in radiusd
    assert "proxy_requests = no" in radiusd
    assert "user = " not in radiusd


@pytest.mark.parametrize(
    "changes",
    [
        {"local_secret": 'bad"secret'},
        {"local_secret": ""},
        {"db_path": Path("/tmp/${evil}/db.sqlite")},
        {"auth_port": 0},
        {"listen_address": "localhost"},
        {"nas_networks": ("10.0.0.0/33",)},
        {"client_lifetime_s": 0},
        {"user": "Bad User"},
    ],
)
def test_render_rejects_bad_parameters(tmp_path: Path, changes: dict[str, object]) -> None:
    with pytest.raises(RadiusConfigError):
        render_config(tmp_path / "raddb", _params(tmp_path, **changes))


@pytest.fixture
def service_dir() -> Iterator[Path]:
    # Not under pytest's tmp dir: that is root-only (0700) and freerad must traverse it.
    base = Path("/tmp") / f"hotspotd-radius-service-{os.getpid()}"
    base.mkdir(mode=0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


async def test_render_in_place_for_the_debian_service_runs_as_freerad(service_dir: Path) -> None:
    # The service renders into the stock directory itself (out_dir == source_dir).
    etc = service_dir / "etc-freeradius"
    shutil.copytree("/etc/freeradius/3.0", etc, symlinks=True)
    data = service_dir / "data"
    data.mkdir()
    db_path = data / "hotspotd.sqlite"
    await create_database(db_path)
    freerad = pwd.getpwnam("freerad")
    for path in (data, db_path):
        os.chown(path, freerad.pw_uid, freerad.pw_gid)
    params = _params(
        service_dir,
        db_path=db_path,
        source_dir=etc,
        user="freerad",
        log_dir=service_dir / "log",
        run_dir=service_dir / "run",
    )
    render_config(etc, params)
    render_config(etc, params)

    radiusd = etc / "radiusd.conf"
    assert "user = freerad" in radiusd.read_text()
    assert stat.S_IMODE(radiusd.stat().st_mode) == 0o640
    assert grp.getgrgid(radiusd.stat().st_gid).gr_name == "freerad"
    assert pwd.getpwuid((service_dir / "log").stat().st_uid).pw_name == "freerad"

    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO radcheck (username, attribute, op, value) "
            "VALUES ('svc-user', 'Cleartext-Password', ':=', 'svc-pw-1')"
        )
    process = await start_freeradius(
        etc, host="127.0.0.1", auth_port=params.auth_port, local_secret=LOCAL_SECRET
    )
    try:
        with RadiusTestClient(
            "127.0.0.1",
            auth_port=params.auth_port,
            acct_port=params.acct_port,
            secret=LOCAL_SECRET,
        ) as client:
            reply = await asyncio.to_thread(client.pap, "svc-user", "svc-pw-1")
            assert reply.code == packet.AccessAccept
            started = await asyncio.to_thread(client.accounting, "Start", "svc-user", "svc-1")
            assert started.code == packet.AccountingResponse
    finally:
        await process.stop()
    assert process.returncode is not None
