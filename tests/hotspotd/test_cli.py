"""The CLI: expected failures end the process with one clear line, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hotspotd.db import Database


def run_cli(*args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `python -m hotspotd ARGS` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "hotspotd", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, extra: str = "", redis_url: str | None = None) -> Path:
    url = redis_url or f"redis://127.0.0.1:{_closed_port()}/0"
    path = tmp_path / "hotspotd.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path}/hotspotd.sqlite3"\n[redis]\nurl = "{url}"\n' + extra
    )
    return path


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "worker --queue critical", "migrate"])
def test_cli_unknown_setting_is_one_line(tmp_path: Path, command: str) -> None:
    config = _config(tmp_path, "[portal]\nprot = 8080\n")
    line = _one_line_error(run_cli(*command.split(), "--config", str(config)))
    assert line == f"hotspotd: {config}: unknown setting 'portal.prot'"


def test_cli_wrong_type_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "[portal]\nport = 'http'\n")
    line = _one_line_error(run_cli("serve", "--config", str(config)))
    assert "setting 'portal.port'" in line and str(config) in line


def test_cli_missing_database_directory_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "hotspotd.toml"
    config.write_text(f'[database]\npath = "{tmp_path}/missing/hotspotd.sqlite3"\n')
    line = _one_line_error(run_cli("migrate", "--config", str(config)))
    assert "directory" in line and "missing does not exist" in line


def test_cli_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, redis_url="redis://:s3cret@127.0.0.1:1/0")
    assert run_cli("migrate", "--config", str(config)).returncode == 0
    for command in (["serve"], ["worker", "--queue", "critical"]):
        line = _one_line_error(run_cli(*command, "--config", str(config)))
        assert line.startswith("hotspotd: cannot reach Redis at redis://:***@127.0.0.1:1/0")
        assert "s3cret" not in line


def test_cli_unmigrated_database_is_refused(tmp_path: Path, redis_url: str) -> None:
    config = _config(tmp_path, redis_url=redis_url)
    line = _one_line_error(run_cli("serve", "--config", str(config)))
    assert "run `hotspotd migrate`" in line


async def test_cli_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = run_cli("migrate", "--config", str(config))
    second = run_cli("migrate", "--config", str(config))
    assert first.returncode == second.returncode == 0
    assert "applied migration 0001" in first.stderr
    assert "applied migration" not in second.stderr
    assert "0 migration(s) applied" in second.stderr
    db = await Database.open(tmp_path / "hotspotd.sqlite3", migrate=False)
    try:
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode is not None and mode[0] == "wal"
    finally:
        await db.close()


def test_cli_radius_config_renders_a_config_freeradius_accepts(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        f'[radius]\nuser = ""\nlog_dir = "{tmp_path}/log"\nrun_dir = "{tmp_path}/run"\n',
    )
    assert run_cli("migrate", "--config", str(config)).returncode == 0
    out = tmp_path / "raddb"
    result = run_cli("radius-config", "--config", str(config), "--out", str(out))
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        ["freeradius", "-XC", "-d", str(out)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout[-2000:]
    assert "Configuration appears to be OK" in check.stdout
