"""`hotspotd dev` (what `scripts/demo` runs) brings the whole system up and stops it cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (after the parenthesised command name) is the parent pid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


@pytest.mark.timeout(200)
def test_dev_runs_the_whole_system_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotspotd", "dev", "--dir", str(tmp_path), "--portal-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(output)
        assert "hotspotd demo is running" in text, text
        match = re.search(r"portal health\s+(http://\S+/healthz)", text)
        assert match, text
        with urllib.request.urlopen(match.group(1), timeout=5) as resp:
            health = json.loads(resp.read())
        assert resp.status == 200
        assert health["checks"] == {"database": "ok", "redis": "ok", "radius": "ok"}
        assert "registered in" in text  # the simulated router went through registration
        children = _children_of(proc.pid)
        assert len(children) >= 6  # redis, freeradius, 3 workers, portal, simulator
        assert (tmp_path / "admin-password.txt").stat().st_mode & 0o077 == 0
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(output) + rest
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or "Z" in Path(f"/proc/{pid}/stat").read_text()
