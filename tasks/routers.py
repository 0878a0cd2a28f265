"""Router jobs: the sync cron (resource, sessions, online/offline, lost Stops) and kicks.

The service functions (``sync_all_routers``, ``sync_router_now``, ``kick_router_session``)
take the database and settings so tests and the bench call them without a worker; the job
functions below them only unpack ``ctx``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from hotspotd.db import Database
from hotspotd.events import Event, Publisher, publish_event, record_event
from hotspotd.settings import Settings
from hotspotd.store import routers as router_store
from hotspotd.store.errors import NotFound
from hotspotd.timeutil import now_s
from radius import accounting, coa
from radius.nas import get_nas
from routers import hotspot_ops
from routers.client import RouterClient, RouterError
from routers.credentials import CredentialsError, decrypt_password
from tasks.context import job_db, job_settings

logger = logging.getLogger(__name__)

# A radacct session is only closed as "lost" when it started this long before the router's
# list was read: a login racing the sync must not be closed.
LOST_STOP_GRACE_S = 60
LOST_STOP_CAUSE = "Lost-Service"


@dataclass
class SyncResult:
    router_id: int
    online: bool
    sessions: int = 0
    closed_lost: int = 0
    error: str | None = None
    elapsed_s: float = 0.0


@dataclass
class SyncSummary:
    results: list[SyncResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary (the cron job's result)."""
        return {
            "routers": len(self.results),
            "online": sum(r.online for r in self.results),
            "sessions": sum(r.sessions for r in self.results),
            "closed_lost": sum(r.closed_lost for r in self.results),
            "elapsed_s": round(self.elapsed_s, 3),
        }


def router_client(settings: Settings, access: router_store.RouterAccess) -> RouterClient:
    """Return a client for a stored router (password decrypted here, never logged)."""
    router = access.router
    return RouterClient(
        router.host,
        port=router.api_port,
        username=router.username,
        password=decrypt_password(settings, access.password_enc),
        use_tls=router.use_tls,
        connect_timeout_s=settings.routers.connect_timeout_s,
        command_timeout_s=settings.routers.command_timeout_s,
        name=f"{router.name} ({router.host})",
    )


def _session_row(s: hotspot_ops.ActiveSession) -> router_store.SessionRow:
    return (
        s.item_id,
        s.user,
        s.address,
        s.mac,
        s.server,
        s.login_by,
        s.uptime_s,
        s.session_time_left_s,
        s.bytes_in,
        s.bytes_out,
        s.radius,
    )


async def _read_router(
    settings: Settings, access: router_store.RouterAccess
) -> tuple[str, hotspot_ops.Resource, list[hotspot_ops.ActiveSession]]:
    cfg = settings.routers
    # One bound for the whole exchange: a router that trickles answers is offline too.
    limit_s = cfg.connect_timeout_s + 3 * cfg.command_timeout_s
    client = router_client(settings, access)
    try:
        async with asyncio.timeout(limit_s):
            resource = await hotspot_ops.read_resource(client)
            identity = await hotspot_ops.read_identity(client)
            sessions = await hotspot_ops.active_sessions(client)
    except TimeoutError:
        raise RouterError("timeout", f"{client.name}: sync took over {limit_s:g} s") from None
    finally:
        await client.close()
    return identity, resource, sessions


async def sync_router_now(
    db: Database,
    settings: Settings,
    access: router_store.RouterAccess,
    publisher: Publisher | None = None,
) -> SyncResult:
    """Read one router and store what it said; mark it offline if it cannot be read."""
    started = time.monotonic()
    router = access.router
    events: list[Event] = []
    try:
        identity, resource, sessions = await _read_router(settings, access)
    except (RouterError, CredentialsError) as exc:
        error = str(exc)
        async with db.transaction() as conn:
            previous = await router_store.record_offline(conn, router.id, error)
            if previous is not None and previous != "offline":
                events.append(
                    await record_event(
                        conn,
                        "RouterOffline",
                        tenant_id=router.tenant_id,
                        subject=f"router:{router.id}",
                        payload={"router_id": router.id, "name": router.name, "error": error},
                    )
                )
        logger.warning("router %s is offline: %s", router.name, error)
        result = SyncResult(router.id, online=False, error=error)
    else:
        seen_at = now_s()
        live = {(s.user, s.address) for s in sessions}
        live_users = {s.user for s in sessions}
        cutoff = seen_at - LOST_STOP_GRACE_S
        lost = [
            row.radacct_id
            for row in await accounting.nas_open_sessions(db, router.nas_ip)
            # A Start without Framed-IP-Address can only be matched by user name.
            if (row.username, row.framed_ip) not in live
            and not (not row.framed_ip and row.username in live_users)
            and row.started_at is not None
            and row.started_at.timestamp() <= cutoff
        ]
        async with db.transaction() as conn:
            previous = await router_store.record_online(
                conn,
                router.id,
                identity=identity,
                version=resource.version,
                board=resource.board,
                resource=resource.as_dict(),
                seen_at=seen_at,
            )
            if previous is None:  # deleted while we were reading it
                return SyncResult(router.id, online=False, error="router deleted")
            await router_store.replace_sessions(
                conn, router.id, [_session_row(s) for s in sessions], seen_at
            )
            closed = await accounting.close_sessions(conn, lost, cause=LOST_STOP_CAUSE)
            if previous != "online":
                events.append(
                    await record_event(
                        conn,
                        "RouterOnline",
                        tenant_id=router.tenant_id,
                        subject=f"router:{router.id}",
                        payload={
                            "router_id": router.id,
                            "name": router.name,
                            "sessions": len(sessions),
                            "uptime_s": resource.uptime_s,
                        },
                    )
                )
        if closed:
            logger.info("router %s: closed %d sessions whose Stop was lost", router.name, closed)
        result = SyncResult(router.id, online=True, sessions=len(sessions), closed_lost=closed)
    if publisher is not None:
        for event in events:
            await publish_event(publisher, settings.redis.key_prefix, event)
    result.elapsed_s = time.monotonic() - started
    return result


async def sync_all_routers(
    db: Database, settings: Settings, publisher: Publisher | None = None
) -> SyncSummary:
    """Sync every router in parallel (bounded); one slow router does not delay the others."""
    started = time.monotonic()
    limit = asyncio.Semaphore(settings.routers.sync_concurrency)

    async def one(access: router_store.RouterAccess) -> SyncResult:
        async with limit:
            try:
                return await sync_router_now(db, settings, access, publisher)
            except Exception as exc:  # a bug with one router must not stop the others
                logger.exception("sync of router %s failed", access.router.name)
                return SyncResult(access.router.id, online=False, error=repr(exc))

    accesses = await router_store.list_routers_for_worker(db)
    results = await asyncio.gather(*(one(access) for access in accesses))
    return SyncSummary(list(results), time.monotonic() - started)


@dataclass
class KickResult:
    router_id: int
    username: str
    address: str | None
    kicked: bool
    method: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready result."""
        return asdict(self)


async def kick_router_session(
    db: Database,
    settings: Settings,
    router_id: int,
    username: str,
    address: str | None,
    publisher: Publisher | None = None,
) -> KickResult:
    """End a session: Disconnect-Request first, removal over the API on NAK or no answer."""
    access = await router_store.get_router_for_worker(db, router_id)
    router = access.router
    open_rows = [
        row
        for row in await accounting.open_sessions(db, username)
        if row.nas_ip == router.nas_ip and (address is None or row.framed_ip == address)
    ]
    acct = open_rows[-1] if open_rows else None
    framed_ip = address or (acct.framed_ip if acct is not None else None)
    errors: list[str] = []
    method: str | None = None
    nas_row = await get_nas(db, router.nas_ip)
    if nas_row is None:
        errors.append("router has no RADIUS client entry")
    else:
        try:
            acked = await coa.disconnect(
                router.nas_ip,
                nas_row.secret,
                user_name=username,
                framed_ip=framed_ip,
                acct_session_id=acct.session_id if acct is not None else None,
                port=settings.radius.coa_port,
                timeout_s=settings.radius.coa_timeout_s,
                retries=0,
            )
        except coa.CoaError as exc:
            errors.append(f"Disconnect-Request: {exc}")
        else:
            if acked:
                method = "radius"
            else:
                errors.append("Disconnect-Request: refused (NAK)")
    if method is None:
        try:
            client = router_client(settings, access)
            try:
                removed = await hotspot_ops.remove_active_session(
                    client, user=username, address=framed_ip
                )
            finally:
                await client.close()
        except (RouterError, CredentialsError) as exc:
            errors.append(f"API: {exc}")
        else:
            if removed:
                method = "api"
            else:
                errors.append("API: no such active session on the router")
    result = KickResult(router_id, username, framed_ip, method is not None, method)
    if method is None:
        result.error = "; ".join(errors)
    async with db.transaction() as conn:
        if method is not None:
            await router_store.delete_session(conn, router_id, username, framed_ip)
        event = await record_event(
            conn,
            "SessionKicked" if method is not None else "SessionKickFailed",
            tenant_id=router.tenant_id,
            subject=f"router:{router.id}",
            payload=result.as_dict(),
        )
    if publisher is not None:
        await publish_event(publisher, settings.redis.key_prefix, event)
    if method is None:
        logger.warning("could not kick %s on router %s: %s", username, router.name, result.error)
    else:
        logger.info("kicked %s on router %s (%s)", username, router.name, method)
    return result


# -- jobs -------------------------------------------------------------------------------------


def _sync_due_key(settings: Settings) -> str:
    return f"{settings.redis.key_prefix}routers:sync-due"


async def sync_routers(ctx: dict[str, Any]) -> dict[str, Any]:
    """Cron: sync every router once per ``routers.sync_interval_s`` (the cron ticks faster)."""
    settings = job_settings(ctx)
    redis = ctx["redis"]
    # The cron runs every few seconds; this key lets one run per interval through, also with
    # several general workers. Slightly short of the interval so ticks do not drift past it.
    due = await redis.set(
        _sync_due_key(settings), b"1", nx=True, ex=max(1, settings.routers.sync_interval_s - 2)
    )
    if not due:
        return {"skipped": True}
    summary = await sync_all_routers(job_db(ctx), settings, redis)
    return summary.as_dict()


async def sync_router(ctx: dict[str, Any], router_id: int) -> dict[str, Any]:
    """Sync one router now (the admin's "sync" button)."""
    db = job_db(ctx)
    try:
        access = await router_store.get_router_for_worker(db, router_id)
    except NotFound:
        return {"router_id": router_id, "online": False, "error": "router deleted"}
    result = await sync_router_now(db, job_settings(ctx), access, ctx["redis"])
    return asdict(result)


async def kick_session(
    ctx: dict[str, Any], router_id: int, username: str, address: str | None
) -> dict[str, Any]:
    """End one hotspot session on a router (RADIUS Disconnect, then API removal)."""
    try:
        result = await kick_router_session(
            job_db(ctx), job_settings(ctx), router_id, username, address, ctx["redis"]
        )
    except NotFound:
        return {"router_id": router_id, "kicked": False, "error": "router deleted"}
    return result.as_dict()
