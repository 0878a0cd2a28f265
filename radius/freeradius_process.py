"""Run FreeRADIUS as a child process (tests and the development/demo mode)."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from radius.status import check_radius

logger = logging.getLogger(__name__)

_OUTPUT_LINES = 200


class FreeradiusError(Exception):
    """FreeRADIUS did not start or answer; the message ends with its last output lines."""


class FreeradiusProcess:
    """A running ``freeradius -f -l stdout -d DIR``; its output is kept for error messages."""

    def __init__(self, popen: subprocess.Popen[bytes], config_dir: Path) -> None:
        self.config_dir = config_dir
        self._popen = popen
        self._output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
        # A thread, not an event-loop reader: the pipe must be drained whatever loop (if any)
        # is running, or FreeRADIUS blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """Process id of FreeRADIUS."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit status, or None while it runs."""
        return self._popen.poll()

    def output_tail(self, lines: int = 30) -> str:
        """Return the last lines FreeRADIUS printed."""
        return "\n".join(list(self._output)[-lines:])

    def _read_output(self) -> None:
        stream = self._popen.stdout
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            self._output.append(line)
            logger.debug("freeradius: %s", line)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop FreeRADIUS (SIGTERM, then SIGKILL after timeout_s) and wait for it; blocking."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("freeradius (pid %d) ignored SIGTERM, killing it", self.pid)
                self._popen.kill()
                self._popen.wait()
        self._reader.join(timeout_s)
        if self._popen.stdout is not None:
            self._popen.stdout.close()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop FreeRADIUS (SIGTERM, then SIGKILL after timeout_s) and wait for it."""
        await asyncio.to_thread(self.close, timeout_s)


async def start_freeradius(
    config_dir: Path,
    *,
    host: str,
    auth_port: int,
    local_secret: str,
    ready_timeout_s: float = 10.0,
    executable: str = "freeradius",
) -> FreeradiusProcess:
    """Start FreeRADIUS on a rendered config dir and wait until it answers Status-Server."""
    env = dict(os.environ)
    # Expiration dates carry no zone and FreeRADIUS reads them in its local time zone; the
    # daemon writes them in UTC.
    env["TZ"] = "UTC"
    command = [executable, "-f", "-l", "stdout", "-d", str(config_dir)]
    try:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise FreeradiusError(f"cannot run {executable}: {exc}") from exc
    process = FreeradiusProcess(popen, config_dir)
    deadline = time.monotonic() + ready_timeout_s
    try:
        while True:
            if process.returncode is not None:
                await asyncio.to_thread(process._reader.join, 2.0)
                raise FreeradiusError(
                    f"freeradius exited with status {process.returncode} during start-up:\n"
                    + process.output_tail()
                )
            if await check_radius(host, auth_port, local_secret, timeout_s=0.25):
                logger.info("freeradius (pid %d) ready on %s:%d", process.pid, host, auth_port)
                return process
            if time.monotonic() > deadline:
                raise FreeradiusError(
                    f"freeradius did not answer Status-Server on {host}:{auth_port} within "
                    f"{ready_timeout_s} s:\n" + process.output_tail()
                )
            await asyncio.sleep(0.05)
    except BaseException:
        await process.stop()
        raise
