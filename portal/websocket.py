"""Live events for the admin panel: one Redis subscription per process, fanned out to sockets.

Each socket sees only what its admin may see (a system admin every event, a
tenant's admin or staff their tenant's). A reconnecting client passes
``?after=<last id>`` and first gets what it missed from the events table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web
from redis.asyncio import Redis

from hotspotd.events import events_channel, events_since
from hotspotd.store import admins
from hotspotd.store.admins import Actor
from portal.auth import require_actor
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.sessions import current_session_id

logger = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 1000
RECONNECT_DELAY_S = 1.0
HEARTBEAT_S = 25.0
# Events after which a socket re-checks that its session still exists.
_SESSION_EVENTS = frozenset({"PasswordChanged", "UserDeleted", "UserUpdated"})


@dataclass(eq=False)
class _Client:
    actor: Actor
    session_id: str | None
    queue: asyncio.Queue[tuple[int, str, dict[str, Any]] | None] = field(
        default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE)
    )
    # Set when the hub stops feeding this client: it must reconnect and catch up.
    stopped: bool = False

    def stop(self) -> None:
        """Make the sender close the socket once it has sent what is queued."""
        self.stopped = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class EventHub:
    """Relay the events channel to this process's WebSocket clients."""

    def __init__(self) -> None:
        self._clients: set[_Client] = set()
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.subscribed = asyncio.Event()

    def register(self, client: _Client) -> None:
        """Start delivering live events to a client."""
        self._clients.add(client)

    def unregister(self, client: _Client) -> None:
        """Stop delivering to a client."""
        self._clients.discard(client)

    def dispatch(self, raw: str) -> None:
        """Queue one published event for every client allowed to see it."""
        try:
            event = json.loads(raw)
            event_id = int(event["id"])
            tenant_id = event.get("tenant_id")
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring malformed event on the events channel")
            return
        for client in list(self._clients):
            if not client.actor.can_access(tenant_id):
                continue
            try:
                client.queue.put_nowait((event_id, raw, event))
            except asyncio.QueueFull:
                # A client this far behind reconnects and catches up from the table.
                self._clients.discard(client)
                client.stop()
                logger.warning("dropping slow WebSocket client of %s", client.actor.username)

    def drop_all(self) -> None:
        """Tell every client to reconnect (after a gap in the subscription)."""
        for client in list(self._clients):
            self._clients.discard(client)
            client.stop()

    async def run(self, redis: Redis, channel: str) -> None:
        """Subscribe and relay until cancelled; resubscribe after Redis errors."""
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self.subscribed.set()
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        data = data.decode("utf-8")
                    if isinstance(data, str):
                        self.dispatch(data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: clients must catch up afterwards
                logger.warning("events subscription lost: %s", exc)
                self.subscribed.clear()
                self.drop_all()
                await asyncio.sleep(RECONNECT_DELAY_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]


HUB_KEY = web.AppKey("event_hub", EventHub)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    hub = EventHub()
    app[HUB_KEY] = hub
    channel = events_channel(app[SETTINGS_KEY].redis.key_prefix)
    task = asyncio.create_task(hub.run(app[REDIS_KEY], channel), name="event-hub")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[HUB_KEY].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def _same_origin(request: web.Request) -> bool:
    # Browsers send cookies with cross-site WebSocket handshakes in some cases;
    # the Origin header is the reliable check (no CSRF token on a GET upgrade).
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser
    return origin.split("://", 1)[-1] == request.host


async def _session_alive(request: web.Request, client: _Client) -> bool:
    if client.session_id is None:
        return False
    record = await admins.get_session(request.app[DB_KEY], client.session_id)
    return record is not None and record.actor == client.actor


async def events_ws(request: web.Request) -> web.StreamResponse:
    """GET /api/ws?after=ID: the signed-in admin's events, missed ones first, then live."""
    actor = await require_actor(request)
    if not _same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        raise web.HTTPBadRequest(text="after must be an event id") from None
    hub = request.app[HUB_KEY]
    client = _Client(actor, await current_session_id(request))
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    hub.sockets.add(ws)
    # Register before reading the backlog so nothing published meanwhile is lost;
    # duplicates are skipped by id below.
    hub.register(client)
    sender = asyncio.create_task(_send(request, ws, client, after))
    try:
        async for _msg in ws:
            pass  # the client only listens; reading keeps pings and close frames moving
    finally:
        hub.unregister(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return ws


async def _send(
    request: web.Request, ws: web.WebSocketResponse, client: _Client, after: int
) -> None:
    actor = client.actor
    last = after
    try:
        while True:  # the backlog may be longer than one page
            backlog = await events_since(
                request.app[DB_KEY], last, tenant_id=actor.tenant_id, all_tenants=actor.is_system
            )
            for past in backlog:
                await ws.send_str(past.model_dump_json())
                last = past.id
            if len(backlog) < 500:
                break
        while True:
            if client.stopped and client.queue.empty():
                break
            item = await client.queue.get()
            if item is None:
                break
            event_id, raw, event = item
            if event_id <= last:
                continue
            await ws.send_str(raw)
            last = event_id
            payload = event.get("payload") or {}
            if (
                event.get("type") in _SESSION_EVENTS
                and payload.get("admin_id") == actor.admin_id
                and not await _session_alive(request, client)
            ):
                break
    except (ConnectionResetError, RuntimeError):
        pass  # the socket closed under us
    await ws.close()


def setup_event_hub(app: web.Application) -> None:
    """Start the hub with the app and serve /api/ws."""
    app.cleanup_ctx.append(_hub_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/api/ws", events_ws)
