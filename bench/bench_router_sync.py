"""Time of the router sync: one router with many active sessions, many routers at once.

Simulated routers run in this process (the simulator shares the CPU and the GIL with the
client threads, so the figures are pessimistic), are registered through the real registration
code, get their /ip/hotspot/active filled, and are then synced with the worker's code
(``tasks.routers``: API print with .proplist, one transaction with executemany).
Targets: < 1 s for one router with 2,000 sessions; 50 routers in parallel in < 5 s.

    python bench/bench_router_sync.py [--sessions 2000] [--routers 50] [--per-router 100]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.fernet import Fernet

from hotspotd.db import Database
from hotspotd.settings import Settings, settings_from_dict
from hotspotd.store import routers as router_store
from hotspotd.store import tenants
from hotspotd.store.admins import Actor
from routers.registration import RouterRegistration, register_router
from routers.simulator.run import RouterConfig, RunningRouter, start_router
from tasks.routers import sync_all_routers, sync_router_now

PASSWORD = "bench-router-pass"


def fill_sessions(router: RunningRouter, count: int) -> None:
    """Put count active hotspot sessions on a simulated router."""
    menu = router.router.menu("/ip/hotspot/active")
    base = ipaddress.IPv4Address("10.5.0.2")
    for n in range(count):
        menu.add(
            {
                "server": "hotspot1",
                "user": f"user{n:05d}",
                "address": str(base + n),
                "mac-address": "02:00:" + ":".join(f"{b:02X}" for b in n.to_bytes(4, "big")),
                "login-by": "http-chap",
                "uptime": "1h2m3s",
                "session-time-left": "58m",
                "bytes-in": str(n * 1000),
                "bytes-out": str(n * 5000),
                "radius": "true",
            }
        )


async def fill_radacct(db: Database, nas_ip: str, count: int) -> None:
    """Give each simulated session its open radacct row, as FreeRADIUS would after Starts."""
    base = ipaddress.IPv4Address("10.5.0.2")
    start = int(time.time()) - 3600
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO radacct (acctsessionid, acctuniqueid, username, nasipaddress,"
            " framedipaddress, acctstarttime, acctupdatetime, acctsessiontime)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (
                (f"{n:08X}", f"{nas_ip}-{n}", f"user{n:05d}", nas_ip, str(base + n), start, start)
                for n in range(count)
            ),
        )


async def register(
    db: Database, settings: Settings, actor: Actor, router: RunningRouter, name: str
) -> None:
    request = RouterRegistration.model_validate(
        {
            "name": name,
            "host": router.address,
            "api_port": router.api_port,
            "username": "admin",
            "password": PASSWORD,
        }
    )
    await register_router(db, settings, actor, request)


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-router-sync-"))
    settings = settings_from_dict(
        {
            "database": {"path": str(tmp / "hotspotd.sqlite3")},
            "radius": {"coa_port": 37990},
            "routers": {
                "credentials_key": Fernet.generate_key().decode(),
                "sync_concurrency": args.concurrency,
            },
        }
    )
    db = await Database.open(settings.database.path)
    started: list[RunningRouter] = []
    try:
        async with db.transaction() as conn:
            tenant = await tenants.create_tenant(conn, slug="bench", name="Bench")
        actor = Actor(admin_id=0, username="bench", role="admin", tenant_id=tenant.id)

        # 1. One router, many sessions.
        big = await start_router(
            RouterConfig(identity="big", address="127.0.2.1", password=PASSWORD)
        )
        started.append(big)
        await register(db, settings, actor, big, "big")
        fill_sessions(big, args.sessions)
        await fill_radacct(db, big.address, args.sessions)
        (access,) = await router_store.list_routers_for_worker(db)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = await sync_router_now(db, settings, access)
            times.append(time.perf_counter() - t0)
            assert result.online and result.sessions == args.sessions, result
            assert result.closed_lost == 0, result
        median = statistics.median(times)
        verdict = "OK" if median < 1.0 else "SLOW"
        print(
            f"one router, {args.sessions} sessions: median {median * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms over {args.repeat} syncs (target < 1000 ms) {verdict}"
        )

        # 2. Many routers in parallel (plus the big one, which is synced too).
        for n in range(args.routers):
            router = await start_router(
                RouterConfig(
                    identity=f"r{n}",
                    address=str(ipaddress.IPv4Address("127.0.3.1") + n),
                    password=PASSWORD,
                )
            )
            started.append(router)
            await register(db, settings, actor, router, f"r{n}")
            fill_sessions(router, args.per_router)
        big.router.menu("/ip/hotspot/active").clear(run_hooks=False)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            summary = await sync_all_routers(db, settings)
            times.append(time.perf_counter() - t0)
            report = summary.as_dict()
            assert report["online"] == args.routers + 1, report
        median = statistics.median(times)
        verdict = "OK" if median < 5.0 else "SLOW"
        print(
            f"{args.routers} routers x {args.per_router} sessions in parallel "
            f"(concurrency {args.concurrency}): median {median * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms (target < 5000 ms) {verdict}"
        )
    finally:
        for router in reversed(started):
            await router.close()
        await db.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--routers", type=int, default=50)
    parser.add_argument("--per-router", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
