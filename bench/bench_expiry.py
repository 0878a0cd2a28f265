"""Cost of the expiry cron and the subscription reconciler (run by hand; prints figures).

Creates N active subscriptions with their RADIUS users in a temp database, then times:
1. the reconciler over N consistent subscriptions (its every-minute cost);
2. expiring all N at once (as at midnight), in the cron's batches of 500, no live sessions.

    python bench/bench_expiry.py [--subscriptions 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotspotd.db import Database
from hotspotd.settings import settings_from_dict
from hotspotd.store import customers, subscriptions
from hotspotd.timeutil import to_datetime
from radius import groups, users
from tasks.expiry import expire_due_subscriptions, reconcile_subscription_radius
from tests.support.domain import make_plan, make_tenant


async def bench(count: int) -> None:
    """Build the subscriptions and print the timings."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({"database": {"path": str(Path(tmp) / "bench.sqlite3")}})
        db = await Database.open(settings.database.path)
        try:
            tenant = await make_tenant(db, "bench")
            plan = await make_plan(db, tenant, validity_s=3600)
            now = int(time.time())
            async with db.transaction() as conn:
                await groups.set_plan_group(
                    conn,
                    plan.radius_group,
                    rate_limit="2M/5M",
                    shared_devices=1,
                    data_quota_bytes=None,
                )
                for i in range(count):
                    customer = await customers.upsert_customer(conn, tenant.id, phone=f"p{i}")
                    sub = await subscriptions.create_pending_subscription(
                        conn,
                        tenant.id,
                        customer_id=customer.id,
                        plan_id=plan.id,
                        username=f"user{i}",
                        password=f"pw{i}",
                    )
                    await users.set_user(
                        conn,
                        sub.username,
                        sub.password,
                        group=plan.radius_group,
                        expires_at=to_datetime(now + 3600),
                    )
                    await subscriptions.activate_subscription(
                        conn, sub.id, starts_at=now, expires_at=now + 3600
                    )
            started = time.perf_counter()
            result = await reconcile_subscription_radius(db, settings)
            reconcile_s = time.perf_counter() - started
            assert result["repaired"] == 0, result
            print(f"reconciler over {count} consistent subscriptions: {reconcile_s:.2f} s")

            started = time.perf_counter()
            expired = 0
            runs = 0
            while True:
                result = await expire_due_subscriptions(db, settings, now=now + 3600)
                runs += 1
                if not result["expired"]:
                    break
                expired += result["expired"]
            expire_s = time.perf_counter() - started
            print(f"expired {expired} subscriptions in {runs - 1} cron run(s): {expire_s:.2f} s")
        finally:
            await db.close()


def main() -> None:
    """Parse arguments and run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    asyncio.run(bench(parser.parse_args().subscriptions))


if __name__ == "__main__":
    main()
