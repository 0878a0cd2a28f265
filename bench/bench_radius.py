"""Access-Request throughput of FreeRADIUS with the rendered hotspotd config (run by hand).

Compares the rendered config (sqlite, N users provisioned through radius.users) with the same
FreeRADIUS answering from a flat ``users`` file (no SQL at all: the ceiling), using
``radclient -p PARALLEL``. Every request is for a valid user with the right password, so every
reject or lost request is counted as an error. ``--writer`` adds a thread that writes to the
database the whole time (short transactions, like the daemon provisioning users).

    python bench/bench_radius.py [--users 1000] [--repeat 20] [--parallel 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotspotd.db import Database
from radius.freeradius_config import RadiusConfigParams, render_config
from radius.freeradius_process import FreeradiusProcess, start_freeradius
from radius.groups import set_plan_group
from radius.users import set_user

SECRET = "bench-local-secret"
HOST = "127.0.0.1"


@dataclass
class RunResult:
    requests: int
    seconds: float
    accepted: int
    rejected: int
    lost: int
    cpu_s: float = 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def provision(db_path: Path, users: int) -> None:
    db = await Database.open(db_path)
    try:
        expires = datetime.now(UTC) + timedelta(days=30)
        async with db.transaction() as conn:
            await set_plan_group(
                conn, "bench-plan", rate_limit="2M/5M", shared_devices=1, data_quota_bytes=None
            )
            for index in range(users):
                await set_user(
                    conn, f"bench{index}", f"pw-{index}", group="bench-plan", expires_at=expires
                )
    finally:
        await db.close()


def flat_file_variant(config_dir: Path, users: int) -> None:
    """Turn a rendered config into the ceiling: users from a flat file, no SQL in the path."""
    site = config_dir / "sites-available/hotspotd"
    text = site.read_text()
    start, end = text.index("\tauthorize {"), text.index("\tauthenticate {")
    authorize = (
        "\tauthorize {\n\t\tpreprocess\n\t\tchap\n\t\tfiles\n\t\texpiration\n\t\tpap\n\t}\n\n"
    )
    text = text[:start] + authorize + text[end:]
    post = text.index("\tpost-auth {")
    text = text[:post] + "\tpost-auth {\n\t\tok\n\t}\n}\n"
    site.write_text(text)
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%b %d %Y %H:%M:%S")
    entries = [
        f'bench{i} Cleartext-Password := "pw-{i}", Expiration := "{expires}"\n'
        '\tMikrotik-Rate-Limit = "2M/5M",\n\tAcct-Interim-Interval = 300\n'
        for i in range(users)
    ]
    (config_dir / "mods-config/files/authorize").write_text("".join(entries))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (less sensitive to other load than a rate)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_file(path: Path, users: int) -> None:
    lines = [
        f'User-Name = "bench{i}", User-Password = "pw-{i}", NAS-IP-Address = 127.0.0.1\n\n'
        for i in range(users)
    ]
    path.write_text("".join(lines))


def run_radclient(requests: Path, port: int, users: int, repeat: int, parallel: int) -> RunResult:
    command = [
        "radclient",
        "-q",
        "-s",
        "-c",
        str(repeat),
        "-p",
        str(parallel),
        "-t",
        "5",
        "-r",
        "1",
        "-f",
        str(requests),
        f"{HOST}:{port}",
        "auth",
        SECRET,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started

    def count(label: str) -> int:
        match = re.search(rf"{label}\s*:\s*(\d+)", result.stdout)
        return int(match.group(1)) if match else 0

    return RunResult(
        requests=users * repeat,
        seconds=seconds,
        accepted=count("Accepted"),
        rejected=count("Rejected"),
        lost=count("Lost"),
    )


class Writer(threading.Thread):
    """Short write transactions on the database while the benchmark runs."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(daemon=True)
        self.db_path = db_path
        self.stop = threading.Event()
        self.transactions = 0

    def run(self) -> None:
        conn = sqlite3.connect(self.db_path, timeout=5, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        try:
            while not self.stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO radcheck (username, attribute, op, value) "
                    "VALUES ('writer', 'Cleartext-Password', ':=', 'x')"
                )
                conn.execute("DELETE FROM radcheck WHERE username = 'writer'")
                conn.execute("COMMIT")
                self.transactions += 1
                # A daemon pauses between transactions; a writer that never pauses starves
                # FreeRADIUS (SQLite's busy handler is not fair).
                time.sleep(0.002)
        finally:
            conn.close()


async def bench(
    label: str,
    base: Path,
    users: int,
    repeat: int,
    parallel: int,
    runs: int,
    *,
    flat: bool,
    writer: bool,
    log_accepts: bool = True,
) -> list[RunResult]:
    base.mkdir()
    db_path = base / "hotspotd.sqlite"
    await provision(db_path, users)
    auth_port, acct_port = free_port(), free_port()
    config_dir = base / "raddb"
    render_config(
        config_dir,
        RadiusConfigParams(
            db_path=db_path,
            auth_port=auth_port,
            acct_port=acct_port,
            local_secret=SECRET,
            log_dir=base / "log",
            run_dir=base / "run",
            log_accepts=log_accepts,
        ),
    )
    if flat:
        flat_file_variant(config_dir, users)
    requests = base / "requests.txt"
    request_file(requests, users)
    process: FreeradiusProcess = await start_freeradius(
        config_dir, host=HOST, auth_port=auth_port, local_secret=SECRET
    )
    results = []
    background = Writer(db_path) if writer else None
    try:
        if background:
            background.start()
        for _ in range(runs):
            cpu_before = cpu_seconds(process.pid)
            result = await asyncio.to_thread(
                run_radclient, requests, auth_port, users, repeat, parallel
            )
            result.cpu_s = cpu_seconds(process.pid) - cpu_before
            results.append(result)
            print(
                f"  {label}: {result.rate:8.0f} req/s  ({result.requests} in "
                f"{result.seconds:.2f} s; accepted {result.accepted}, rejected "
                f"{result.rejected}, lost {result.lost}; FreeRADIUS CPU "
                f"{result.cpu_us_per_request:.0f} us/request)"
            )
    finally:
        if background:
            background.stop.set()
            background.join()
            print(f"  writer committed {background.transactions} transactions")
        await process.stop()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20, help="radclient -c")
    parser.add_argument("--parallel", type=int, default=50, help="radclient -p")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writer", action="store_true", help="also write to the DB meanwhile")
    args = parser.parse_args()
    import os

    print(f"load average before: {os.getloadavg()}")

    with tempfile.TemporaryDirectory(prefix="bench-radius-") as tmp:
        summary = {}
        variants = (
            ("sqlite (rendered config)", "sqlite", False, True),
            ("sqlite, log_accepts=False", "sqlite-quiet", False, False),
            ("flat file (ceiling)", "flat", True, True),
        )
        for label, dirname, flat, log_accepts in variants:
            print(f"{label}:")
            results = await bench(
                label,
                Path(tmp) / dirname,
                args.users,
                args.repeat,
                args.parallel,
                args.runs,
                flat=flat,
                writer=args.writer and not flat,
                log_accepts=log_accepts,
            )
            summary[label] = results
        print()
        print(f"{args.users} users, radclient -p {args.parallel}, median of {args.runs} runs:")
        for label, results in summary.items():
            median = statistics.median(r.rate for r in results)
            cpu = statistics.median(r.cpu_us_per_request for r in results)
            wrong = sum(r.rejected + r.lost for r in results)
            total = sum(r.requests for r in results)
            print(
                f"  {label:26s} {median:7.0f} Access-Requests/s, {cpu:4.0f} us CPU/request, "
                f"wrong rejects/lost {wrong}/{total}"
            )


if __name__ == "__main__":
    asyncio.run(main())
