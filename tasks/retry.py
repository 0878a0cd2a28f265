"""Retries with backoff for transient faults, shared by the jobs."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any, NoReturn

from arq.worker import Retry
from redis.exceptions import RedisError

from tasks.context import job_settings

logger = logging.getLogger(__name__)

# Faults worth another try: a busy database, Redis or the network hiccuping.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError,
    RedisError,
    OSError,
    TimeoutError,
)


def retry_later(ctx: dict[str, Any], exc: BaseException) -> NoReturn:
    """Ask arq to run the job again after a growing delay, or re-raise on the last try."""
    settings = job_settings(ctx)
    try_ = int(ctx.get("job_try", 1))
    if try_ >= settings.worker.max_tries:
        raise exc
    logger.warning(
        "job %s try %d failed (%s: %s); retrying", ctx.get("job_id"), try_, type(exc).__name__, exc
    )
    raise Retry(defer=settings.worker.retry_backoff_s * try_) from exc
