"""arq's job log lines carry no job arguments or ids (voucher codes, user names)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from arq.connections import create_pool

from hotspotd.settings import Settings
from tasks.log_redaction import RedactJobArguments, job_digest
from tasks.router_enqueue import enqueue_kick_session
from tasks.worker import redis_settings
from tests.support.worker import running_worker

CODE = "VCHR7KQ2MZ"


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("arq.worker", logging.INFO, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("%6.2fs → %s(%s)%s", (0.01, f"kick:{CODE}:kick_session", f"1, '{CODE}'", "")),
        ("%6.2fs ← %s ● %s", (0.01, f"kick:{CODE}:kick_session", "")),
        ("%6.2fs ↻ %s retrying job in %0.2fs", (0.01, f"revoke:{CODE}:revoke_voucher", 2.0)),
        ("job %s expired", (f"revoke:{CODE}",)),
    ],
)
def test_redaction_removes_codes_from_arq_lines(msg: str, args: tuple[object, ...]) -> None:
    record = _record(msg, *args)
    assert RedactJobArguments().filter(record)
    text = record.getMessage()
    assert CODE not in text
    assert job_digest(f"kick:{CODE}") in text or job_digest(f"revoke:{CODE}") in text


async def test_worker_logs_no_voucher_code(
    settings: Settings, database: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    redis = await create_pool(redis_settings(settings))
    try:
        async with running_worker(settings, "critical") as worker:
            await enqueue_kick_session(redis, settings, 999, CODE, "10.5.50.9")
            deadline = time.monotonic() + 10
            while worker.jobs_complete + worker.jobs_failed == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
    finally:
        await redis.aclose()
    assert any("kick_session" in r.getMessage() for r in caplog.records)
    leaked = [r.getMessage() for r in caplog.records if CODE in r.getMessage()]
    assert leaked == []
