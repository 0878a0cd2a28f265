"""`hotspotd dev`: the whole system on one machine, private ports, data under one folder.

Starts Redis, FreeRADIUS (rendered config), the three workers, the portal and a
simulated MikroTik router as child processes, prints the URLs and stops
everything on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from hotspotd.cli.commands import radius_params
from hotspotd.cli.demo_data import (
    DEMO_SYSTEM_ADMIN,
    DEMO_TENANT_ADMIN,
    register_demo_router,
    seed_demo_data,
)
from hotspotd.cli.errors import CommandError
from hotspotd.db import Database
from hotspotd.logging_config import configure_logging
from hotspotd.settings import Settings, load_settings
from radius.freeradius_config import render_config
from radius.freeradius_process import FreeradiusError, start_freeradius
from routers.registration import RegistrationError
from tasks.queues import QUEUE_GROUPS
from tasks.worker import WORKER_SETTINGS

logger = logging.getLogger(__name__)

DEMO_ROUTER_ADDRESS = "127.0.0.2"
# Generous: on a loaded 2-core box five Python processes start at once.
READY_TIMEOUT_S = 60.0


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """Return a port that is free right now on host."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_or_free(port: int) -> int:
    if port == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


@dataclass
class DemoSecrets:
    radius_local: str
    router_radius: str
    session: str
    credentials_key: str
    admin_password: str

    @classmethod
    def load_or_create(cls, path: Path) -> DemoSecrets:
        """Keep the demo's secrets across runs, so the database stays usable."""
        from cryptography.fernet import Fernet

        fresh = {
            "radius_local": secrets.token_urlsafe(16),
            "router_radius": secrets.token_urlsafe(16),
            "session": secrets.token_urlsafe(32),
            "credentials_key": Fernet.generate_key().decode(),
            "admin_password": secrets.token_urlsafe(12),
        }
        if path.exists():
            fresh.update(json.loads(path.read_text()))
        made = cls(**fresh)
        path.write_text(json.dumps(made.__dict__))
        path.chmod(0o600)
        return made


def write_demo_config(root: Path, portal_port: int, sec: DemoSecrets) -> Path:
    """Write the demo settings file with fresh free ports; return its path."""
    redis_port = free_port()
    auth_port = free_port(kind=socket.SOCK_DGRAM)
    acct_port = free_port(kind=socket.SOCK_DGRAM)
    coa_port = free_port(DEMO_ROUTER_ADDRESS, kind=socket.SOCK_DGRAM)
    text = f"""# Written by `hotspotd dev` on every start (ports are picked free each time).
[database]
path = "{root / "hotspotd.sqlite3"}"

[redis]
url = "redis://127.0.0.1:{redis_port}/0"

[radius]
listen_address = "127.0.0.1"
auth_port = {auth_port}
acct_port = {acct_port}
local_secret = "{sec.radius_local}"
config_dir = "{root / "freeradius"}"
log_dir = "{root / "logs"}"
run_dir = "{root / "run"}"
user = ""
interim_interval_s = 60
# The simulated router's Disconnect/CoA port (registration sets it on the router).
coa_port = {coa_port}

[portal]
host = "127.0.0.1"
port = {portal_port}
public_url = "http://127.0.0.1:{portal_port}"
session_secret = "{sec.session}"
registration_open = true

[routers]
credentials_key = "{sec.credentials_key}"
sync_interval_s = 15

[logging]
level = "INFO"
"""
    path = root / "hotspotd.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


class Children:
    """Child processes, stopped in reverse order of start."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 5) -> str:
        """Return the last lines of a child's log, on one line, for an error message."""
        path = self.log_dir / f"{name}.log"
        try:
            tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return f"no log at {path}"
        return " | ".join(tail) or f"nothing in {path}"

    def exited(self) -> str | None:
        """Return the name of a child that stopped by itself, if any."""
        for name, proc in self.procs:
            if proc.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _require(binary: str, package: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise CommandError(f"{binary} not found: install it with `apt-get install {package}`")
    return path


async def _wait_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return True
            await asyncio.sleep(0.2)
    return False


async def _wait_redis(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"PING\r\n")
            await writer.drain()
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            if line.startswith(b"+PONG"):
                return
        await asyncio.sleep(0.05)
    raise CommandError(f"redis-server did not answer on port {port}")


def _hotspotd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hotspotd", *args]


async def _start_all(
    root: Path, settings: Settings, config: Path, children: Children, sec: DemoSecrets
) -> tuple[object, str]:
    redis_port = urlsplit(settings.redis.url.get_secret_value()).port or 6379
    (root / "redis").mkdir(exist_ok=True)
    children.start(
        "redis",
        [
            _require("redis-server", "redis-server"),
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(root / "redis"),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--daemonize",
            "no",
        ],
    )
    await _wait_redis(redis_port, 10)

    db = await Database.open(settings.database.path)
    try:
        await seed_demo_data(db, admin_password=sec.admin_password)
    finally:
        await db.close()

    _require("freeradius", "freeradius")
    render_config(settings.radius.config_dir, radius_params(settings))
    try:
        freeradius = await start_freeradius(
            settings.radius.config_dir,
            host="127.0.0.1",
            auth_port=settings.radius.auth_port,
            local_secret=sec.radius_local,
        )
    except FreeradiusError as exc:
        raise CommandError(str(exc)) from None

    for queue in QUEUE_GROUPS:
        if not WORKER_SETTINGS[queue].functions and not WORKER_SETTINGS[queue].cron_jobs:
            continue
        children.start(
            f"worker-{queue}", _hotspotd("worker", "--queue", queue, "--config", str(config))
        )
    children.start("portal", _hotspotd("serve", "--config", str(config)))
    api_port, hotspot_port = free_port(DEMO_ROUTER_ADDRESS), free_port(DEMO_ROUTER_ADDRESS)
    children.start(
        "router-simulator",
        _hotspotd(
            "simulate-router",
            "--identity",
            "demo-router",
            "--address",
            DEMO_ROUTER_ADDRESS,
            "--api-port",
            str(api_port),
            "--hotspot-port",
            str(hotspot_port),
            # Booted unconfigured (no RADIUS): registration below sets it up, as on a
            # real router. The demo's router API password is one of its kept secrets.
            "--password",
            sec.router_radius,
            "--portal-url",
            f"{settings.portal.public_url}/portal/demo",
            "--hosts",
            "3",
        ),
    )
    router_info = await _register_router(settings, api_port, sec.router_radius, children)
    router_info += f"\n  router login    http://{DEMO_ROUTER_ADDRESS}:{hotspot_port}/login"
    return freeradius, router_info


async def _register_router(
    settings: Settings, api_port: int, password: str, children: Children
) -> str:
    """Register the simulated router like an admin would; return a line for the banner."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            _, writer = await asyncio.open_connection(DEMO_ROUTER_ADDRESS, api_port)
        except OSError:
            if children.exited() is not None or time.monotonic() > deadline:
                raise CommandError(
                    "the router simulator did not start: " + children.log_tail("router-simulator")
                ) from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        break
    db = await Database.open(settings.database.path, migrate=False)
    try:
        registered = await register_demo_router(
            db, settings, host=DEMO_ROUTER_ADDRESS, api_port=api_port, password=password
        )
    except RegistrationError as exc:
        raise CommandError(f"could not register the simulated router: {exc}") from None
    finally:
        await db.close()
    router = registered.router
    return (
        f"{router.identity} (RouterOS {router.version}) at {router.host}:{router.api_port},"
        f" registered in {registered.elapsed_s:.2f} s, synced every"
        f" {settings.routers.sync_interval_s} s"
    )


def run_dev(args: argparse.Namespace) -> int:
    """Run the demo system until Ctrl-C."""
    configure_logging("INFO")
    root: Path = args.dir.resolve()
    for sub in ("logs", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    sec = DemoSecrets.load_or_create(root / "secrets.json")
    password_file = root / "admin-password.txt"
    password_file.write_text(sec.admin_password + "\n")
    password_file.chmod(0o600)
    portal_port = _port_or_free(args.portal_port)
    config = write_demo_config(root, portal_port, sec)
    settings = load_settings(config)
    children = Children(root / "logs")
    stop = asyncio.Event()

    async def run() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        freeradius = None
        try:
            freeradius, router_info = await _start_all(root, settings, config, children, sec)
            portal = f"http://127.0.0.1:{portal_port}"
            if not await _wait_http(f"{portal}/healthz", READY_TIMEOUT_S):
                raise CommandError(f"the portal did not become healthy: see {root}/logs/")
            sys.stdout.write(
                f"\nhotspotd demo is running (data and logs in {root}):\n"
                f"  portal health   {portal}/healthz\n"
                f"  admin panel     {portal}/admin/  (users {DEMO_SYSTEM_ADMIN} and"
                f" {DEMO_TENANT_ADMIN}, password in {root / 'admin-password.txt'})\n"
                f"  router (sim)    {router_info}\n"
                f"  settings        {config}\n"
                "Press Ctrl-C to stop.\n"
            )
            sys.stdout.flush()
            while not stop.is_set():
                if (name := children.exited()) is not None:
                    raise CommandError(f"{name} stopped unexpectedly: see {root}/logs/{name}.log")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            return 0
        finally:
            children.stop()
            if freeradius is not None:
                await freeradius.stop()  # type: ignore[attr-defined]
            logger.info("demo stopped")

    return asyncio.run(run())
