"""Run a real arq worker in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from arq.worker import Worker

from hotspotd.settings import Settings
from tasks.queues import QueueGroup
from tasks.worker import build_worker


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, group: QueueGroup) -> AsyncIterator[Worker]:
    """Run the queue group's worker until the with block ends."""
    worker = build_worker(settings, group, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # Stop polling first, so no job starts while we wait; then let the jobs in
        # flight finish: arq's close() cancels them and re-raises their
        # CancelledError from its gather, skipping on_shutdown.
        if worker.main_task is not None:
            worker.main_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        deadline = asyncio.get_running_loop().time() + 10
        while any(not t.done() for t in worker.tasks.values()):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        await worker.close()
