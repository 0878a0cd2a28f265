"""Admin API under load: 202 latency of user creation vs a bare aiohttp handler, event latency.

Starts a private redis-server, the portal (`hotspotd serve`) and the management
worker (`hotspotd worker --queue management`) as child processes on free ports,
plus a bare aiohttp app (one POST handler answering 202 with JSON: the ceiling)
in another child process. Then, in one run, prints:

1. bare handler: p50/p99 latency and requests/s at CONCURRENCY clients;
2. POST /api/users (validate, record the job, enqueue, 202): the same figures;
3. time from the 202 to the UserCreated event reaching a connected WebSocket,
   for creations paced at --rate per second (the worker hashes each password
   with scrypt at --scrypt-n, which dominates: the hash time is printed too).

    python bench/bench_admin_api.py [--requests 3000] [--concurrency 64] [--events 100]
        [--rate 10] [--scrypt-n 16384]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotspotd.db import Database  # noqa: E402
from hotspotd.passwords import hash_password  # noqa: E402
from hotspotd.store import admins, tenants  # noqa: E402
from tests.support.redis_server import private_redis  # noqa: E402

PASSWORD = "bench password 1"
BARE_APP = """
import sys
from aiohttp import web
async def handler(request):
    await request.json()
    return web.json_response({"job_id": "x", "state": "queued"}, status=202)
app = web.Application()
app.router.add_post("/", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, latencies_s: list[float], elapsed_s: float, errors: int) -> None:
    ms = [v * 1000 for v in latencies_s]
    print(
        f"{name:<34} n={len(ms):>5}  p50 {pct(ms, 0.50):7.2f} ms  p99 {pct(ms, 0.99):7.2f} ms"
        f"  {len(ms) / elapsed_s:8.0f} req/s  errors {errors}"
    )


async def load(
    session: aiohttp.ClientSession,
    url: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
    headers: dict[str, str],
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client() -> None:
        nonlocal errors
        while not queue.empty():
            body = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 202:
                    errors += 1
                    if errors <= 3:
                        print(f"  unexpected {resp.status} for {body}: {(await resp.text())[:200]}")
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start, errors


async def setup_data(db_path: Path, scrypt_n: int) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as conn:
            tenant = await tenants.create_tenant(conn, slug="bench", name="Bench")
            await admins.create_admin(
                conn,
                tenant_id=tenant.id,
                username="boss",
                password_hash=hash_password(PASSWORD, n=scrypt_n),
                role="admin",
            )
    finally:
        await db.close()


async def sign_in(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}/api/csrf") as resp:
        token = (await resp.json())["csrf_token"]
    async with session.post(
        f"{base}/api/login",
        json={"username": "boss", "password": PASSWORD},
        headers={"X-CSRF-Token": token},
    ) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf_token"])


async def event_latency(
    session: aiohttp.ClientSession, base: str, csrf: str, count: int, rate: float
) -> list[float]:
    ws = await session.ws_connect(f"{base}/api/ws?after=0")
    accepted: dict[str, float] = {}
    delays: list[float] = []
    done = asyncio.Event()

    async def reader() -> None:
        async for msg in ws:
            event = json.loads(msg.data)
            job_id = event.get("payload", {}).get("job_id")
            if event["type"] == "UserCreated" and job_id in accepted:
                delays.append(time.perf_counter() - accepted[job_id])
                if len(delays) == count:
                    done.set()
                    return

    task = asyncio.create_task(reader())
    for i in range(count):
        body = {"username": f"paced{i}", "password": PASSWORD, "role": "staff"}
        async with session.post(
            f"{base}/api/users", json=body, headers={"X-CSRF-Token": csrf}
        ) as resp:
            answer = await resp.json()
            accepted[answer["job_id"]] = time.perf_counter()
        await asyncio.sleep(1 / rate)
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        task.cancel()
        await ws.close()
    return delays


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-admin-") as tmp_name:
        tmp = Path(tmp_name)
        with private_redis(tmp / "redis") as redis:
            portal_port, bare_port = free_port(), free_port()
            config = tmp / "hotspotd.toml"
            config.write_text(
                f'[database]\npath = "{tmp / "hotspotd.sqlite3"}"\n'
                f'[redis]\nurl = "{redis.url(0)}"\n'
                f'[portal]\nport = {portal_port}\nsession_secret = "{os.urandom(24).hex()}"\n'
                f"[auth]\npassword_scrypt_n = {args.scrypt_n}\n"
                '[logging]\nlevel = "WARNING"\n'
            )
            await setup_data(tmp / "hotspotd.sqlite3", args.scrypt_n)
            hotspotd = [sys.executable, "-m", "hotspotd"]
            children = [
                subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)], cwd=ROOT),
                subprocess.Popen([*hotspotd, "serve", "--config", str(config)], cwd=ROOT),
                subprocess.Popen(
                    [*hotspotd, "worker", "--queue", "management", "--config", str(config)],
                    cwd=ROOT,
                ),
            ]
            try:
                bare = f"http://127.0.0.1:{bare_port}"
                base = f"http://127.0.0.1:{portal_port}"
                await wait_http(f"{bare}/")
                await wait_http(f"{base}/admin/login")
                await asyncio.sleep(1.0)  # let the worker start polling
                t = time.perf_counter()
                hashlib.scrypt(b"x", salt=b"y" * 16, n=args.scrypt_n, r=8, p=1, maxmem=2**26)
                hash_ms = (time.perf_counter() - t) * 1000
                print(
                    f"machine: {os.cpu_count()} cores; scrypt n={args.scrypt_n}: {hash_ms:.0f} ms"
                )
                connector = aiohttp.TCPConnector(limit=args.concurrency)
                jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1 (an IP host)
                async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as session:
                    csrf = await sign_in(session, base)
                    # 3. first, while the queue is empty: event latency at a steady rate.
                    delays = await event_latency(session, base, csrf, args.events, args.rate)
                    # 1. the ceiling.
                    bodies = [
                        {"username": f"user{i:06d}", "password": PASSWORD}
                        for i in range(args.requests)
                    ]
                    warm = bodies[: args.concurrency * 4]
                    await load(session, f"{bare}/", warm, args.concurrency, {})
                    lat, elapsed, errors = await load(
                        session, f"{bare}/", bodies, args.concurrency, {}
                    )
                    report(f"bare aiohttp 202 (c={args.concurrency})", lat, elapsed, errors)
                    # 2. the real thing (the worker keeps consuming meanwhile).
                    lat, elapsed, errors = await load(
                        session,
                        f"{base}/api/users",
                        [{**b, "role": "staff"} for b in bodies],
                        args.concurrency,
                        {"X-CSRF-Token": csrf},
                    )
                    report(f"POST /api/users 202 (c={args.concurrency})", lat, elapsed, errors)
                    if args.paused_worker:
                        # The same with the worker stopped: the portal's own cost.
                        children[2].send_signal(signal.SIGSTOP)
                        more = [{**b, "username": "p" + b["username"]} for b in bodies]
                        lat, elapsed, errors = await load(
                            session,
                            f"{base}/api/users",
                            [{**b, "role": "staff"} for b in more],
                            args.concurrency,
                            {"X-CSRF-Token": csrf},
                        )
                        children[2].send_signal(signal.SIGCONT)
                        report("  same, worker paused", lat, elapsed, errors)
                ms = [d * 1000 for d in delays]
                print(
                    f"{'202 -> UserCreated on WebSocket':<34} n={len(ms):>5}"
                    f"  p50 {pct(ms, 0.5):7.2f} ms  p99 {pct(ms, 0.99):7.2f} ms"
                    f"  (paced {args.rate:g}/s; mean {statistics.mean(ms):.1f} ms)"
                )
            finally:
                for child in children:
                    child.terminate()
                for child in children:
                    try:
                        child.wait(15)
                    except subprocess.TimeoutExpired:
                        # arq's shutdown can hang with a backlog of cancelled jobs.
                        print(f"  (killed {child.args[3:5]} after SIGTERM timed out)")
                        child.kill()
                        child.wait(5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--scrypt-n", type=int, default=16384)
    parser.add_argument(
        "--paused-worker", action="store_true", help="also measure with the worker stopped"
    )
    asyncio.run(main(parser.parse_args()))
