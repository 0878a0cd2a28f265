"""ARQ worker settings, one per queue group, sharing settings and database."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Function, Worker, func

from hotspotd.settings import Settings
from tasks.accounting import close_lost_sessions
from tasks.context import SETTINGS, close_resources, open_resources
from tasks.expiry import expire_subscriptions, reconcile_subscriptions
from tasks.log_redaction import install_log_redaction
from tasks.management import MANAGEMENT_JOBS, reconcile_management_jobs
from tasks.plan_jobs import push_plan_limits
from tasks.provisioning import provision_hotspot_user
from tasks.queues import QueueGroup, queue_name
from tasks.reconcilers import reconcile_pending_subscriptions
from tasks.routers import kick_session, sync_router, sync_routers
from tasks.subscriptions_jobs import reconnect_subscription, resume_account, suspend_account
from tasks.vouchers import generate_vouchers, reconcile_voucher_batches, revoke_voucher

logger = logging.getLogger(__name__)


class CriticalWorker:
    """Access to the network: provision, reconnect, disconnect at expiry."""

    # Kicks are access control (like the disconnect at expiry): they must not wait behind
    # a sync of many routers or a payment backlog on the general queue. keep_result=0 so the
    # same session can be kicked again right after (the job id is per session).
    functions = (
        # keep_result=0: the id only de-duplicates while queued or running, so the
        # reconciler can queue a provisioning that failed (its subscription is still pending).
        func(provision_hotspot_user, keep_result=0),
        func(kick_session, keep_result=0, max_tries=1),
        # The reconnect id names the expiry it extends: a kept result refuses a double submit.
        reconnect_subscription,
        # keep_result=0: suspend, resume, suspend again must each run.
        func(suspend_account, keep_result=0),
        func(resume_account, keep_result=0),
        func(revoke_voucher, keep_result=0),
        # keep_result=0: every plan edit that asks for it pushes again (the job reads the plan).
        func(push_plan_limits, keep_result=0),
    )
    cron_jobs = (
        cron(reconcile_pending_subscriptions, second={0, 30}, run_at_startup=True),
        # Every 10 s: a user is cut off at most ~10 s after expiry (the router's Session-Timeout
        # and FreeRADIUS's Expiration are the other two guards).
        cron(expire_subscriptions, second=set(range(0, 60, 10)), run_at_startup=True),
        cron(reconcile_subscriptions, second=45, run_at_startup=True),
    )


class ManagementWorker:
    """Tenants and admin users."""

    # keep_result=0: the jobs table is the record of state and result, and a
    # kept result would make arq refuse the same id on retry from the jobs page.
    functions: tuple[Any, ...] = tuple(func(job, keep_result=0) for job in MANAGEMENT_JOBS)
    cron_jobs: tuple[Any, ...] = (
        cron(reconcile_management_jobs, second={10, 40}, run_at_startup=True),
    )


class GeneralWorker:
    """Payments, SMS, router sync, reconcilers."""

    # keep_result=0: a kept result would refuse the next sync of the same router for an hour.
    functions: tuple[Any, ...] = (
        func(sync_router, keep_result=0, max_tries=1),
        # keep_result=0: the batch reconciler may queue the same batch id again.
        func(generate_vouchers, keep_result=0),
    )
    cron_jobs = (
        cron(close_lost_sessions, minute=set(range(0, 60, 5)), second=15),
        cron(reconcile_voucher_batches, second=20),
        # Ticks every 5 s; sync_routers lets one run per routers.sync_interval_s through.
        cron(sync_routers, second=set(range(0, 60, 5)), run_at_startup=True),
    )


WORKER_SETTINGS: dict[QueueGroup, type[Any]] = {
    "critical": CriticalWorker,
    "management": ManagementWorker,
    "general": GeneralWorker,
}


def redis_settings(settings: Settings) -> RedisSettings:
    """Return arq's Redis settings from ours."""
    redis = RedisSettings.from_dsn(settings.redis.url.get_secret_value())
    redis.conn_timeout = int(max(1, settings.redis.connect_timeout_s))
    redis.conn_retries = 0
    return redis


def build_worker(settings: Settings, group: QueueGroup, **overrides: Any) -> Worker:
    """Build the arq Worker for a queue group from the settings."""
    spec = WORKER_SETTINGS[group]
    if not spec.functions and not spec.cron_jobs:
        raise ValueError(f"queue group '{group}' has no jobs")
    worker_cfg = settings.worker
    install_log_redaction()
    functions: list[Function] = [
        func(function, max_tries=worker_cfg.max_tries) for function in spec.functions
    ]

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx[SETTINGS] = settings
        await open_resources(ctx)

    options: dict[str, Any] = {
        "functions": functions,
        # Fresh copies: arq keeps each cron's next_run on the CronJob object, so
        # a second worker built in the same process would skip run_at_startup.
        "cron_jobs": [dataclasses.replace(job, next_run=None) for job in spec.cron_jobs],
        "queue_name": queue_name(settings.redis.key_prefix, group),
        "redis_settings": redis_settings(settings),
        "on_startup": on_startup,
        "on_shutdown": close_resources,
        # arq's 0.5 s default poll adds up to half a second before a job starts
        # (reference/arq.md); interactive work needs it short.
        "poll_delay": worker_cfg.poll_delay_s,
        "max_jobs": worker_cfg.max_jobs,
        "max_tries": worker_cfg.max_tries,
        "job_timeout": worker_cfg.job_timeout_s,
        # Results can name users (a voucher's user name is its code): not logged.
        "log_results": False,
        "health_check_key": f"{settings.redis.key_prefix}health:{group}",
    }
    options.update(overrides)
    return Worker(**options)
