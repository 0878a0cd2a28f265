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
        # Stop without cancelling arq mid-command: in burst mode its main loop returns by
        # itself once the queue is empty and the jobs in flight are done. Cancelling it
        # inside a Redis pipeline can leave a connection unreleased (a ResourceWarning).
        worker.burst = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 15)
        except TimeoutError:
            if worker.main_task is not None:
                worker.main_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await worker.close()
