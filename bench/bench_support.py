"""Pieces the bench scripts share: a settings file for child processes, a worker process,
percentiles."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_config(base: Path, raw: dict[str, dict[str, Any]]) -> Path:
    """Write settings as TOML for a child process; return the file."""
    lines = []
    for section, values in raw.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
    path = base / "hotspotd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def worker_process(config: Path, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `hotspotd worker --queue critical` as a child process (output to log, or dropped)."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hotspotd",
                "worker",
                "--queue",
                "critical",
                "--config",
                str(config),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            proc.wait(15)


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
