"""Expiry with live sessions: N subscriptions expiring in the same minute, all cut off by the
worker (run by hand; prints figures).

Starts a private redis-server, a private FreeRADIUS on a migrated database and R simulated
routers (127.0.3.N, in this process) registered through the real registration code. N
subscriptions are provisioned with a one-hour validity (the provisioning job function, called
directly) and every one logs in through a simulated router (HTTP login page, CHAP, RADIUS
through FreeRADIUS, accounting Start). Then subscriptions.expires_at and the radcheck Expiration
are moved to a window of WINDOW seconds starting a few seconds later; the Session-Timeout the
routers got at login stays about an hour, so only the worker can end these sessions. One real
critical-queue worker process (`hotspotd worker --queue critical`) runs the expiry cron (and
the reconcilers) while the simulated routers run in this process.

For each session: the time from its subscription's expires_at to the simulated router ending it,
with the cause the router recorded (Admin-Reset: Disconnect-Request or API removal).

    python bench/bench_expiry_sessions.py [--subscriptions 10000] [--routers 5] [--window 60]

Target: all N disconnected within 60 s of their expiry.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arq.connections import create_pool
from bench_support import pct, worker_process, write_config
from cryptography.fernet import Fernet

from hotspotd.db import Database
from hotspotd.settings import settings_from_dict
from hotspotd.store.admins import Actor
from hotspotd.timeutil import to_datetime
from radius import users
from routers.registration import RouterRegistration, register_router
from routers.simulator.run import RouterConfig, RunningRouter, start_router
from routers.simulator.sessions import Session
from tasks.context import DB, SETTINGS
from tasks.provisioning import provision_hotspot_user
from tasks.worker import redis_settings
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.freeradius import RadiusServer, free_udp_port, private_freeradius
from tests.support.redis_server import private_redis

ROUTER_PASSWORD = "bench-router-pass"
LOGIN_CONCURRENCY = 40
# Seconds between the last login and the first expiry (worker start-up, settling).
LEAD_S = 10
TARGET_S = 60.0


def record_ends(router: RunningRouter, ended_at: dict[int, float]) -> None:
    """Note the wall-clock time at which the router ends each session (bench-only hook)."""
    manager = router.sessions
    original = manager.request_end

    def request_end(session: Session, cause: str) -> None:
        if session.active:
            ended_at[id(session)] = time.time()
        original(session, cause)

    manager.request_end = request_end  # type: ignore[method-assign]


async def run(args: argparse.Namespace, base: Path, radius: RadiusServer, redis_url: str) -> None:
    coa_port = free_udp_port("127.0.3.1")
    raw: dict[str, dict[str, Any]] = {
        "database": {"path": str(radius.db_path)},
        "redis": {"url": redis_url, "key_prefix": "bench:"},
        "radius": {
            "auth_port": radius.auth_port,
            "acct_port": radius.acct_port,
            "local_secret": radius.secret,
            "user": "",
            "coa_port": coa_port,
            "coa_timeout_s": 1.0,
        },
        "routers": {"credentials_key": Fernet.generate_key().decode()},
        "worker": {"max_jobs": 20},
        # INFO: the worker's "expired N subscriptions, disconnected M sessions" lines.
        "logging": {"level": "INFO"},
    }
    settings = settings_from_dict(raw)
    config = write_config(base, raw)
    db = await Database.open(radius.db_path)
    redis = await create_pool(redis_settings(settings))
    routers: list[RunningRouter] = []
    ended_at: dict[int, float] = {}
    try:
        tenant = await make_tenant(db, "bench")
        actor = Actor(admin_id=0, username="bench", role="admin", tenant_id=tenant.id)
        for n in range(args.routers):
            router = await start_router(
                RouterConfig(
                    identity=f"r{n}",
                    address=str(ipaddress.IPv4Address("127.0.3.1") + n),
                    password=ROUTER_PASSWORD,
                )
            )
            routers.append(router)
            record_ends(router, ended_at)
            await register_router(
                db,
                settings,
                actor,
                RouterRegistration.model_validate(
                    {
                        "name": f"r{n}",
                        "host": router.address,
                        "api_port": router.api_port,
                        "username": "admin",
                        "password": ROUTER_PASSWORD,
                    }
                ),
            )

        # Setup: pending subscriptions, provisioned by the job function (one transaction each).
        plan = await make_plan(db, tenant, validity_s=3600)
        t0 = time.perf_counter()
        subs = [
            await make_pending_subscription(db, tenant, plan) for _ in range(args.subscriptions)
        ]
        ctx = {DB: db, SETTINGS: settings, "redis": redis}
        for sub in subs:
            await provision_hotspot_user(ctx, sub.id)
        print(f"setup: {len(subs)} subscriptions provisioned in {time.perf_counter() - t0:.1f} s")

        # Logins, spread round-robin over the routers.
        limit = asyncio.Semaphore(LOGIN_CONCURRENCY)
        sessions: list[Session] = []
        failures: collections.Counter[str] = collections.Counter()

        async def login(i: int) -> None:
            sub = subs[i]
            async with limit:
                client = routers[i % len(routers)].arrive()
                attempt = await client.login(sub.username, sub.password)
            session = client.session
            if not attempt.ok or session is None:
                failures[attempt.error or f"status {attempt.status}"] += 1
                return
            sessions.append(session)

        t0 = time.perf_counter()
        await asyncio.gather(*(login(i) for i in range(len(subs))))
        login_s = time.perf_counter() - t0
        print(
            f"logins: {len(sessions)} of {len(subs)} in {login_s:.1f} s "
            f"({len(sessions) / login_s:.0f}/s, concurrency {LOGIN_CONCURRENCY}, "
            f"{args.routers} routers); failed: {dict(failures) or 0}"
        )
        # Every Start must be in radacct before the worker looks for open sessions.
        deadline = time.monotonic() + 120
        while True:
            row = await db.fetchone("SELECT count(*) AS n FROM radacct WHERE acctstoptime IS NULL")
            if row is not None and row["n"] >= len(sessions):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {row['n'] if row else 0} open radacct rows")
            await asyncio.sleep(0.2)

        # Move the expiries into one window a little ahead; RADIUS Expiration stays an hour away.
        start = int(time.time()) + LEAD_S
        expires = {
            sub.username: start + (i * args.window) // len(subs) for i, sub in enumerate(subs)
        }
        async with db.transaction() as conn:
            await conn.executemany(
                "UPDATE subscriptions SET expires_at = ? WHERE username = ?",
                ((at, name) for name, at in expires.items()),
            )
            # The RADIUS rows agree with it, as in production (else the reconciler "repairs"
            # all N at once); the sessions keep the Session-Timeout they got at login (~1 h).
            await conn.executemany(
                "UPDATE radcheck SET value = ? WHERE username = ? AND attribute = 'Expiration'",
                ((users.format_expiration(to_datetime(at)), name) for name, at in expires.items()),
            )
        last_expiry = max(expires.values())
        timeouts = [s.session_deadline - s.started for s in sessions if s.session_deadline]
        print(
            f"Session-Timeout from FreeRADIUS at login: {len(timeouts)} sessions, "
            f"shortest {min(timeouts, default=0):.0f} s"
        )
        print(
            f"expiries: {len(subs)} subscriptions from +{LEAD_S} s over {args.window} s "
            f"(radcheck Expiration moved too; the Session-Timeout given at login stays ~1 h)"
        )

        with worker_process(config, base / "worker.log"):
            deadline = last_expiry + TARGET_S + args.grace
            while time.time() < deadline and any(s.active for s in sessions):
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)
        report(args, sessions, expires, ended_at, last_expiry)
        log = (base / "worker.log").read_text(errors="replace")
        words = ("ERROR", "TimeoutError", "expired ", "reconciler repaired")
        for line in log.splitlines():
            if any(word in line for word in words) and "Traceback" not in line:
                print(f"  worker: {line.strip()[:160]}")
        pace = await db.fetchone(
            "SELECT count(*) AS n, min(created_at) AS first, max(created_at) AS last"
            " FROM events WHERE type = 'SessionKicked'"
        )
        if pace is not None and pace["n"]:
            span = max(1, pace["last"] - pace["first"])
            print(f"kicks recorded: {pace['n']} over {span} s ({pace['n'] / span:.0f}/s)")
        row = await db.fetchone("SELECT count(*) AS n FROM subscriptions WHERE status = 'expired'")
        kicked = await db.fetchall(
            "SELECT type, json_extract(payload, '$.method') AS method, count(*) AS n"
            " FROM events WHERE type IN ('SessionKicked', 'SessionKickFailed')"
            " GROUP BY type, method"
        )
        print(
            f"database: {row['n'] if row else 0} subscriptions expired; kick events: "
            + ", ".join(f"{r['type']}/{r['method']} {r['n']}" for r in kicked)
        )
    finally:
        for router in reversed(routers):
            await router.close()
        await redis.aclose()
        await db.close()


def report(
    args: argparse.Namespace,
    sessions: list[Session],
    expires: dict[str, int],
    ended_at: dict[int, float],
    last_expiry: int,
) -> None:
    """Print the per-session lag from expiry to disconnection."""
    causes = collections.Counter(s.end_cause or "still active" for s in sessions)
    reset = [s for s in sessions if s.end_cause == "Admin-Reset" and id(s) in ended_at]
    lags = [ended_at[id(s)] - expires[s.user] for s in reset]
    early = sum(1 for lag in lags if lag < 0)
    print(f"end causes: {dict(causes)} (Admin-Reset: Disconnect-Request or API removal)")
    if not lags:
        print("no session was disconnected by the worker")
        return
    ends = [ended_at[id(s)] for s in reset]
    within = sum(1 for lag in lags if 0 <= lag <= TARGET_S)
    print(
        f"expiry -> disconnected, {len(lags)} sessions: min {min(lags):.1f} s, "
        f"p50 {statistics.median(lags):.1f} s, p99 {pct(lags, 99):.1f} s, max {max(lags):.1f} s"
        + (f" ({early} BEFORE expiry)" if early else "")
    )
    print(
        f"spread of disconnections (last - first): {max(ends) - min(ends):.1f} s; "
        f"last one {max(ends) - last_expiry:+.1f} s after the last expiry"
    )
    ok = within == len(sessions)
    print(
        f"all {len(sessions)} disconnected by the worker within {TARGET_S:.0f} s of expiry: "
        f"{'YES' if ok else 'NO'} ({within} within, {len(sessions) - within} not)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--routers", type=int, default=5)
    parser.add_argument("--window", type=int, default=60, help="seconds the expiries spread over")
    parser.add_argument(
        "--grace", type=float, default=60, help="extra seconds to wait past the target"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-expiry-sessions-") as tmp:
        base = Path(tmp)
        db_path = base / "hotspotd.sqlite3"

        async def migrate() -> None:
            await (await Database.open(db_path)).close()

        asyncio.run(migrate())
        with private_redis(base / "redis") as redis, private_freeradius(base, db_path) as radius:
            asyncio.run(run(args, base, radius, redis.url()))


if __name__ == "__main__":
    main()
