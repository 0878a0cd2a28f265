"""Provisioning throughput and enqueue-to-accepted latency (run by hand; prints figures).

Starts a private redis-server, a private FreeRADIUS on the rendered config and one real
critical-queue worker process (`hotspotd worker --queue critical`), then:

1. backlog: N pending subscriptions enqueued at once; provisioned users/s until all are active;
2. steady: RATE users/s for SECONDS; for each, the time from enqueue until FreeRADIUS first
   answers Access-Accept for it (probing with PAP every PROBE_MS), printed as p50/p99/max.

    python bench/bench_provisioning.py [--backlog 2000] [--rate 50] [--seconds 10]

Targets on a 2-core machine: >= 200 provisioned users/s; p99 enqueue to accepted < 250 ms
at 50 users/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from arq.connections import ArqRedis, create_pool
from bench_support import pct, worker_process, write_config
from pyrad import packet

from hotspotd.db import Database
from hotspotd.settings import Settings, settings_from_dict
from hotspotd.store.subscriptions import Subscription
from tasks.enqueue import enqueue_provision_hotspot_user
from tasks.worker import redis_settings
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.freeradius import RadiusServer, private_freeradius
from tests.support.redis_server import private_redis

PROBE_MS = 5


async def wait_active(db: Database, ids: set[int], timeout_s: float = 300) -> float:
    """Wait until every subscription in ids is active; return when that happened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = await db.fetchall("SELECT id FROM subscriptions WHERE status = 'active'")
        if ids <= {row["id"] for row in rows}:
            return time.monotonic()
        await asyncio.sleep(0.01)
    raise SystemExit("provisioning did not finish in time")


def probe_until_accepted(radius: RadiusServer, sub: Subscription, timeout_s: float = 10) -> float:
    """PAP every PROBE_MS until Access-Accept; return when it came."""
    deadline = time.monotonic() + timeout_s
    with radius.client(timeout_s=1.0) as client:
        while time.monotonic() < deadline:
            if client.pap(sub.username, sub.password).code == packet.AccessAccept:
                return time.monotonic()
            time.sleep(PROBE_MS / 1000)
    raise SystemExit(f"subscription {sub.id} not accepted within {timeout_s} s")


async def steady(
    db: Database,
    redis: ArqRedis,
    settings: Settings,
    radius: RadiusServer,
    subs: list[Subscription],
    rate: float,
) -> list[float]:
    """Enqueue at a fixed rate; return the enqueue-to-accepted latencies in ms."""

    async def one(sub: Subscription) -> float:
        started = time.monotonic()
        await enqueue_provision_hotspot_user(redis, settings, sub.id)
        accepted = await asyncio.to_thread(probe_until_accepted, radius, sub)
        return (accepted - started) * 1000

    tasks = []
    begin = time.monotonic()
    for i, sub in enumerate(subs):
        await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(sub)))
    return await asyncio.gather(*tasks)


async def run(args: argparse.Namespace, base: Path, radius: RadiusServer, redis_url: str) -> None:
    raw: dict[str, dict[str, object]] = {
        "database": {"path": str(radius.db_path)},
        "redis": {"url": redis_url, "key_prefix": "bench:"},
        "radius": {
            "auth_port": radius.auth_port,
            "acct_port": radius.acct_port,
            "local_secret": radius.secret,
            "user": "",
        },
        "worker": {"max_jobs": 20},
        "logging": {"level": "WARNING"},
    }
    settings = settings_from_dict(raw)
    config = write_config(base, raw)
    db = await Database.open(radius.db_path)
    redis = await create_pool(redis_settings(settings))
    try:
        tenant = await make_tenant(db, "bench")
        plan = await make_plan(db, tenant, shared_devices=5)
        backlog = [await make_pending_subscription(db, tenant, plan) for _ in range(args.backlog)]
        n_steady = int(args.rate * args.seconds)
        later = [await make_pending_subscription(db, tenant, plan) for _ in range(n_steady)]
        with worker_process(config):
            await asyncio.sleep(1.5)  # worker start-up (imports, Redis, database)
            started = time.monotonic()
            for sub in backlog:
                await enqueue_provision_hotspot_user(redis, settings, sub.id)
            enqueued = time.monotonic()
            done = await wait_active(db, {s.id for s in backlog})
            rate = len(backlog) / (done - started)
            print(
                f"backlog: {len(backlog)} users enqueued in {enqueued - started:.2f} s, "
                f"all active after {done - started:.2f} s: {rate:.0f} provisioned users/s "
                "(target >= 200)"
            )
            latencies = await steady(db, redis, settings, radius, later, args.rate)
        print(
            f"steady {args.rate:g} users/s for {args.seconds:g} s ({len(latencies)} users): "
            f"enqueue -> Access-Accept p50 {statistics.median(latencies):.0f} ms, "
            f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms (target p99 < 250 ms)"
        )
    finally:
        await redis.aclose()
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-prov-") as tmp:
        base = Path(tmp)
        db_path = base / "hotspotd.sqlite3"

        async def migrate() -> None:
            await (await Database.open(db_path)).close()

        asyncio.run(migrate())
        with private_redis(base / "redis") as redis, private_freeradius(base, db_path) as radius:
            asyncio.run(run(args, base, radius, redis.url()))


if __name__ == "__main__":
    main()
