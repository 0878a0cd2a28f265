"""Routers: JSON API and admin page (register, list with status, sync, kick a session).

Registration is synchronous (201 with what was found on the router, or a clear error within
``routers.register_timeout_s``); sync and kick go through the worker (202 + job id) and their
outcome arrives as events (RouterOnline/RouterOffline, SessionKicked/SessionKickFailed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from aiohttp import web
from pydantic import ValidationError

from hotspotd.events import Publisher
from hotspotd.store import routers as router_store
from hotspotd.store import tenants
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from portal.auth import Role, require_actor
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.request_body import read_body
from portal.templating import render
from routers.registration import (
    Registered,
    RegistrationError,
    RouterRegistration,
    register_router,
)
from tasks.router_enqueue import enqueue_kick_session, enqueue_sync_router

MANAGERS: tuple[Role, ...] = ("system", "admin")
_FORM_FIELDS = (
    "name",
    "host",
    "api_port",
    "use_tls",
    "username",
    "password",
    "nas_ip",
    "tenant_id",
)

# RegistrationError.kind -> HTTP status: the router's faults are the gateway's (502/504).
_STATUS: dict[str, type[web.HTTPException]] = {
    "invalid": web.HTTPUnprocessableEntity,
    "forbidden": web.HTTPForbidden,
    "conflict": web.HTTPConflict,
    "router": web.HTTPBadGateway,
    "timeout": web.HTTPGatewayTimeout,
    "server": web.HTTPInternalServerError,
}


class _FieldErrors(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid input")
        self.fields = fields


def _registration(data: Mapping[str, Any], *, from_form: bool) -> RouterRegistration:
    values = {k: v for k, v in data.items() if k in _FORM_FIELDS or not from_form}
    if from_form:
        # Empty form fields mean "not given"; a checkbox is present only when ticked.
        values = {k: v for k, v in values.items() if v != "" or k == "password"}
        values["use_tls"] = "use_tls" in data
    try:
        return RouterRegistration.model_validate(values)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "body"
            fields.setdefault(name, str(error["msg"]))
        raise _FieldErrors(fields) from None


async def _register(request: web.Request, actor: Actor, reg: RouterRegistration) -> Registered:
    app = request.app
    # ArqRedis.publish is typed wider than the Publisher protocol; it is the same call.
    publisher = cast(Publisher, app[REDIS_KEY])
    return await register_router(app[DB_KEY], app[SETTINGS_KEY], actor, reg, publisher=publisher)


def _router_json(router: router_store.Router) -> dict[str, Any]:
    return router.model_dump()


def _router_id(request: web.Request) -> int:
    try:
        return int(request.match_info["router_id"])
    except ValueError:
        raise http_error(request, web.HTTPNotFound, "not found") from None


# -- JSON API ---------------------------------------------------------------------------------


async def post_router(request: web.Request) -> web.Response:
    """POST /api/routers: register a router now (201), or say why not."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        reg = _registration(data, from_form=request.content_type != "application/json")
    except _FieldErrors as exc:
        raise http_error(
            request, web.HTTPUnprocessableEntity, "invalid input", fields=exc.fields
        ) from None
    try:
        registered = await _register(request, actor, reg)
    except RegistrationError as exc:
        raise http_error(
            request, _STATUS[exc.kind], exc.message, kind=exc.router_kind or exc.kind
        ) from None
    body = registered.as_dict()
    location = f"/api/routers/{registered.router.id}"
    return web.json_response(body, status=201, headers={"Location": location})


async def get_routers(request: web.Request) -> web.Response:
    """GET /api/routers: the actor's routers with status, resource and session counts."""
    actor = await require_actor(request)
    routers = await router_store.list_routers(request.app[DB_KEY], actor)
    return web.json_response({"routers": [_router_json(r) for r in routers]})


async def get_router(request: web.Request) -> web.Response:
    """GET /api/routers/{id}."""
    actor = await require_actor(request)
    try:
        router = await router_store.get_router(request.app[DB_KEY], actor, _router_id(request))
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such router") from None
    return web.json_response(_router_json(router))


async def get_router_sessions(request: web.Request) -> web.Response:
    """GET /api/routers/{id}/sessions: the sessions the router reported at its last sync."""
    actor = await require_actor(request)
    db = request.app[DB_KEY]
    router_id = _router_id(request)
    try:
        await router_store.get_router(db, actor, router_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such router") from None
    sessions = await router_store.list_sessions(db, actor, router_id=router_id)
    return web.json_response({"sessions": [s.model_dump() for s in sessions]})


async def post_router_sync(request: web.Request) -> web.Response:
    """POST /api/routers/{id}/sync: sync now, through the worker (202 + job id)."""
    actor = await require_actor(request)
    job_id = await _sync(request, actor, _router_id(request))
    return web.json_response({"job_id": job_id}, status=202)


async def post_session_kick(request: web.Request) -> web.Response:
    """POST /api/sessions/kick {router_id, username, address?}: 202 + job id."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        job_id = await _kick(request, actor, data)
    except _FieldErrors as exc:
        raise http_error(
            request, web.HTTPUnprocessableEntity, "invalid input", fields=exc.fields
        ) from None
    return web.json_response({"job_id": job_id}, status=202)


async def _sync(request: web.Request, actor: Actor, router_id: int) -> str:
    app = request.app
    try:
        await router_store.get_router(app[DB_KEY], actor, router_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such router") from None
    return await enqueue_sync_router(app[REDIS_KEY], app[SETTINGS_KEY], router_id)


async def _kick(request: web.Request, actor: Actor, data: Mapping[str, Any]) -> str:
    fields: dict[str, str] = {}
    try:
        router_id = int(data.get("router_id", ""))
    except (TypeError, ValueError):
        fields["router_id"] = "must be a router id"
        router_id = 0
    username = data.get("username")
    if not isinstance(username, str) or not 1 <= len(username.strip()) <= 128:
        fields["username"] = "required"
    address = data.get("address") or None
    if address is not None and not isinstance(address, str):
        fields["address"] = "must be an IP address"
    if fields:
        raise _FieldErrors(fields)
    assert isinstance(username, str)
    app = request.app
    try:
        await router_store.get_router(app[DB_KEY], actor, router_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such router") from None
    return await enqueue_kick_session(
        app[REDIS_KEY], app[SETTINGS_KEY], router_id, username.strip(), address
    )


# -- admin page -------------------------------------------------------------------------------


async def _page(
    request: web.Request,
    actor: Actor,
    *,
    status: int = 200,
    error: str | None = None,
    fields: Mapping[str, str] | None = None,
    form: Mapping[str, Any] | None = None,
    registered: Registered | None = None,
) -> web.Response:
    db = request.app[DB_KEY]
    routers = await router_store.list_routers(db, actor)
    sessions = await router_store.list_sessions(db, actor, limit=200)
    context = {
        "routers": routers,
        "sessions": sessions,
        "can_manage": actor.role in MANAGERS,
        "tenants": await tenants.list_tenants(db) if actor.is_system else [],
        "error": error,
        "errors": dict(fields or {}),
        "form": {k: v for k, v in (form or {}).items() if k != "password"},
        "registered": registered,
        "notice": request.query.get("notice", ""),
    }
    return render(request, "admin/routers.html", context, status=status)


async def routers_page(request: web.Request) -> web.Response:
    """GET /admin/routers."""
    actor = await require_actor(request)
    return await _page(request, actor)


async def routers_submit(request: web.Request) -> web.Response:
    """POST /admin/routers: register (the page shows the result at once)."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        reg = _registration(data, from_form=True)
    except _FieldErrors as exc:
        return await _page(request, actor, status=422, fields=exc.fields, form=data)
    try:
        registered = await _register(request, actor, reg)
    except RegistrationError as exc:
        status = _STATUS[exc.kind].status_code
        return await _page(request, actor, status=status, error=exc.message, form=data)
    return await _page(request, actor, status=201, registered=registered)


async def router_sync_submit(request: web.Request) -> web.Response:
    """POST /admin/routers/{id}/sync."""
    actor = await require_actor(request)
    job_id = await _sync(request, actor, _router_id(request))
    raise web.HTTPSeeOther(location=f"/admin/routers?notice=sync+queued+({job_id})")


async def session_kick_submit(request: web.Request) -> web.Response:
    """POST /admin/sessions/kick."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        job_id = await _kick(request, actor, data)
    except _FieldErrors as exc:
        return await _page(request, actor, status=422, fields=exc.fields)
    raise web.HTTPSeeOther(location=f"/admin/routers?notice=kick+queued+({job_id})")


def setup_routers_views(app: web.Application) -> None:
    """Register the routers API and admin page."""
    r = app.router
    r.add_post("/api/routers", post_router)
    r.add_get("/api/routers", get_routers)
    r.add_get("/api/routers/{router_id}", get_router)
    r.add_get("/api/routers/{router_id}/sessions", get_router_sessions)
    r.add_post("/api/routers/{router_id}/sync", post_router_sync)
    r.add_post("/api/sessions/kick", post_session_kick)
    r.add_get("/admin/routers", routers_page)
    r.add_post("/admin/routers", routers_submit)
    r.add_post("/admin/routers/{router_id}/sync", router_sync_submit)
    r.add_post("/admin/sessions/kick", session_kick_submit)
