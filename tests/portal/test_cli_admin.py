"""`hotspotd create-admin` makes a system admin who can sign in."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import admins
from tests.portal.conftest import TEST_SCRYPT_N, login


def _config(settings: Settings, path: Path) -> Path:
    path.write_text(
        f'[database]\npath = "{settings.database.path}"\n'
        f'[redis]\nurl = "{settings.redis.url.get_secret_value()}"\n'
        f'key_prefix = "{settings.redis.key_prefix}"\n'
        f"[auth]\npassword_scrypt_n = {TEST_SCRYPT_N}\n"
    )
    return path


async def _run(config: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotspotd", "create-admin", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_create_admin_makes_a_system_admin_and_refuses_bad_input(
    settings: Settings, database: Database, client: TestClient[Any, Any], tmp_path: Path
) -> None:
    config = _config(settings, tmp_path / "hotspotd.toml")
    result = await _run(
        config, "--username", "owner", "--password-stdin", stdin="a long password\n"
    )
    assert result.returncode == 0, result.stderr
    assert "a long password" not in result.stderr
    creds = await admins.get_credentials(database, "owner")
    assert creds is not None
    assert creds.admin.role == "system" and creds.admin.tenant_id is None
    await login(client, "owner", "a long password")
    taken = await _run(
        config, "--username", "OWNER", "--password-stdin", stdin="another long one\n"
    )
    assert taken.returncode == 1
    assert "taken" in taken.stderr
    short = await _run(config, "--username", "other", "--password-stdin", stdin="short\n")
    assert short.returncode == 1
    assert "at least" in short.stderr
    assert await admins.count_system_admins(database) == 1
