"""Time to generate a voucher batch (run by hand; prints figures).

Creates a migrated database in a temp dir (with 20,000 existing RADIUS users, so the
collision check has something to look through), records a batch request and runs the
generation job's service function, then checks every code is a RADIUS user.

    python bench/bench_vouchers.py [--count 10000] [--runs 3]

Target on a 2-core machine: 10,000 codes in < 10 s.
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

from hotspotd.db import Database
from hotspotd.settings import settings_from_dict
from hotspotd.store import vouchers as voucher_store
from hotspotd.store.vouchers import BatchParams
from radius.vouchers import count_batch_vouchers
from tasks.vouchers import generate_voucher_batch
from tests.support.domain import make_plan, make_tenant


async def bench(count: int, runs: int) -> None:
    """Run the generation `runs` times and print the timings."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({"database": {"path": str(Path(tmp) / "bench.sqlite3")}})
        db = await Database.open(settings.database.path)
        try:
            tenant = await make_tenant(db, "bench")
            plan = await make_plan(db, tenant, validity_s=3600)
            async with db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO radcheck (username, attribute, op, value)"
                    " VALUES (?, 'Cleartext-Password', ':=', 'x')",
                    [(f"existing{i}",) for i in range(20_000)],
                )
            timings = []
            for _ in range(runs):
                params = BatchParams(
                    plan_id=plan.id,
                    count=count,
                    code_length=8,
                    price_cents=plan.price_cents,
                    currency=plan.currency,
                    validity_s=plan.validity_s,
                )
                async with db.transaction() as conn:
                    batch = await voucher_store.record_batch_request(conn, tenant.id, params)
                started = time.perf_counter()
                await generate_voucher_batch(db, settings, batch.id)
                timings.append(time.perf_counter() - started)
                made = await count_batch_vouchers(db, batch.id)
                assert made == count, (made, count)
            print(f"vouchers per batch: {count}")
            print("generation times (s): " + ", ".join(f"{t:.2f}" for t in timings))
            print(f"median: {statistics.median(timings):.2f} s (target < 10 s)")
        finally:
            await db.close()


def main() -> None:
    """Parse arguments and run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench(args.count, args.runs))


if __name__ == "__main__":
    main()
