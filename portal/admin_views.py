"""Server-rendered admin panel: sign-in, dashboard, tenants, users, password, jobs, registration.

Forms that start a job redirect to their page with ``?job=<id>``; the page
shows the pending item and admin.js turns it done or failed when the event
arrives over the WebSocket. To add a page: a handler that calls
``require_actor``, renders a template extending ``admin/base.html`` with
``render(request, ...)``, and a route in ``setup_admin_views`` (or your own
setup function); every POST form carries ``{{ csrf_token }}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from hotspotd.store import admins, event_log, jobs, tenants
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from hotspotd.store.jobs import JobRecord
from portal import admin_ops
from portal.admin_ops import FieldErrors, LoginRefused
from portal.api_views import MANAGERS, retry_job
from portal.auth import optional_actor, require_actor
from portal.keys import DB_KEY, SETTINGS_KEY
from portal.sessions import end_session
from portal.templating import render


def see_other(location: str) -> web.Response:
    """Return a 303 to a local path (a response, so cookies can be set on it)."""
    return web.Response(status=303, headers={"Location": location})


def _page_ctx(extra: Mapping[str, Any]) -> dict[str, Any]:
    ctx = {"request_id": uuid.uuid4().hex, "errors": {}, "form": {}}
    ctx.update(extra)
    return ctx


async def _live(request: web.Request) -> dict[str, Any]:
    return {"last_event_id": await event_log.latest_event_id(request.app[DB_KEY])}


async def _job_from_query(request: web.Request, actor: Actor) -> JobRecord | None:
    job_id = request.query.get("job")
    if not job_id:
        return None
    try:
        return await jobs.get_job_for(request.app[DB_KEY], actor, job_id)
    except NotFound:
        return None


def _form_values(data: Mapping[str, Any]) -> dict[str, str]:
    # Echo what was typed back into the form, never the passwords.
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, str) and "password" not in k and k != "csrf_token"
    }


# Sign-in ------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    """GET /admin/login."""
    next_path = admin_ops.safe_next(request.query.get("next"))
    if await optional_actor(request) is not None:
        raise web.HTTPSeeOther(location=next_path)
    return render(request, "admin/login.html", {"next": next_path, "error": None, "username": ""})


async def login_submit(request: web.Request) -> web.Response:
    """POST /admin/login: sign in now, then go to the (local) next page."""
    data = await request.post()
    next_path = admin_ops.safe_next(str(data.get("next", "")))
    username = str(data.get("username", ""))
    response = see_other(next_path)
    try:
        await admin_ops.login(request, response, username, str(data.get("password", "")))
    except LoginRefused as exc:
        page = render(
            request,
            "admin/login.html",
            {"next": next_path, "error": str(exc), "username": username},
            status=exc.status,
        )
        if exc.retry_after_s:
            page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    return response


async def logout_submit(request: web.Request) -> web.Response:
    """POST /admin/logout."""
    response = see_other("/admin/login")
    await end_session(request, response)
    return response


# Dashboard ----------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    """GET /admin/: counters, recent events and jobs, all updated live."""
    actor = await require_actor(request)
    db = request.app[DB_KEY]
    scope = None if actor.is_system else actor.tenant_id
    ctx = {
        "counters": await tenants.dashboard_counts(db, scope),
        "events": await event_log.recent_events(db, actor),
        "jobs": (await jobs.list_jobs(db, actor, limit=8)),
        **(await _live(request)),
    }
    return render(request, "admin/dashboard.html", ctx)


# Tenants ------------------------------------------------------------------


async def _tenants_page(
    request: web.Request, actor: Actor, extra: Mapping[str, Any], status: int = 200
) -> web.Response:
    db = request.app[DB_KEY]
    ctx = _page_ctx(
        {
            "tenants": await tenants.list_tenants(db),
            "pending": await jobs.list_active_jobs(db, actor, "create_tenant"),
            "job": await _job_from_query(request, actor),
            **(await _live(request)),
        }
    )
    ctx.update(extra)
    return render(request, "admin/tenants.html", ctx, status=status)


async def tenants_page(request: web.Request) -> web.Response:
    """GET /admin/tenants (system admins)."""
    actor = await require_actor(request, "system")
    return await _tenants_page(request, actor, {})


async def tenants_submit(request: web.Request) -> web.Response:
    """POST /admin/tenants: queue a new tenant."""
    actor = await require_actor(request, "system")
    data = await request.post()
    try:
        job = await admin_ops.submit_create_tenant(request, actor, data)
    except FieldErrors as exc:
        extra = {"errors": exc.fields, "form": _form_values(data)}
        return await _tenants_page(request, actor, extra, status=422)
    raise web.HTTPSeeOther(location=f"/admin/tenants?job={job.id}")


# Users --------------------------------------------------------------------


async def _users_page(
    request: web.Request, actor: Actor, extra: Mapping[str, Any], status: int = 200
) -> web.Response:
    db = request.app[DB_KEY]
    ctx = _page_ctx(
        {
            "users": await admins.list_admins(db, actor),
            "pending": await jobs.list_active_jobs(db, actor, "create_admin_user"),
            "job": await _job_from_query(request, actor),
            "tenants": await tenants.list_tenants(db) if actor.is_system else [],
            "can_manage": actor.role in MANAGERS,
            **(await _live(request)),
        }
    )
    ctx.update(extra)
    return render(request, "admin/users.html", ctx, status=status)


async def users_page(request: web.Request) -> web.Response:
    """GET /admin/users."""
    actor = await require_actor(request)
    return await _users_page(request, actor, {})


async def users_submit(request: web.Request) -> web.Response:
    """POST /admin/users: queue a new user."""
    actor = await require_actor(request, *MANAGERS)
    data = await request.post()
    try:
        job = await admin_ops.submit_create_user(request, actor, data)
    except FieldErrors as exc:
        extra = {"errors": exc.fields, "form": _form_values(data)}
        return await _users_page(request, actor, extra, status=422)
    raise web.HTTPSeeOther(location=f"/admin/users?job={job.id}")


def _admin_id(request: web.Request) -> int:
    try:
        return int(request.match_info["admin_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such user") from None


async def user_update_submit(request: web.Request) -> web.Response:
    """POST /admin/users/{id}/update: queue a role or status change."""
    actor = await require_actor(request, *MANAGERS)
    data = await request.post()
    try:
        job = await admin_ops.submit_update_user(request, actor, _admin_id(request), data)
    except FieldErrors as exc:
        return await _users_page(request, actor, {"errors": exc.fields}, status=422)
    raise web.HTTPSeeOther(location=f"/admin/users?job={job.id}")


async def user_delete_submit(request: web.Request) -> web.Response:
    """POST /admin/users/{id}/delete: queue a deletion."""
    actor = await require_actor(request, *MANAGERS)
    data = await request.post()
    try:
        job = await admin_ops.submit_delete_user(request, actor, _admin_id(request), data)
    except FieldErrors as exc:
        return await _users_page(request, actor, {"errors": exc.fields}, status=422)
    raise web.HTTPSeeOther(location=f"/admin/users?job={job.id}")


# Own password -------------------------------------------------------------


async def password_page(request: web.Request) -> web.Response:
    """GET /admin/password."""
    actor = await require_actor(request)
    ctx = _page_ctx({"job": await _job_from_query(request, actor), **(await _live(request))})
    return render(request, "admin/password.html", ctx)


async def password_submit(request: web.Request) -> web.Response:
    """POST /admin/password: check the current password, queue the change."""
    actor = await require_actor(request)
    data = await request.post()
    try:
        job = await admin_ops.submit_password_change(request, actor, data)
    except FieldErrors as exc:
        ctx = _page_ctx({"errors": exc.fields, "job": None, **(await _live(request))})
        return render(request, "admin/password.html", ctx, status=422)
    raise web.HTTPSeeOther(location=f"/admin/password?job={job.id}")


# Jobs ---------------------------------------------------------------------


async def jobs_page(request: web.Request) -> web.Response:
    """GET /admin/jobs: recent jobs with state and error; retry for failed ones."""
    actor = await require_actor(request)
    ctx = {
        "jobs": await jobs.list_jobs(request.app[DB_KEY], actor),
        "can_manage": actor.role in MANAGERS,
        **(await _live(request)),
    }
    return render(request, "admin/jobs.html", ctx)


async def job_retry_submit(request: web.Request) -> web.Response:
    """POST /admin/jobs/{id}/retry."""
    actor = await require_actor(request, *MANAGERS)
    job = await retry_job(request, actor, request.match_info["job_id"])
    raise web.HTTPSeeOther(location=f"/admin/jobs#job-{job.id}")


# Public registration ------------------------------------------------------


def _registration_open(request: web.Request) -> None:
    if not request.app[SETTINGS_KEY].portal.registration_open:
        raise web.HTTPNotFound(text="registration is closed")


async def register_page(request: web.Request) -> web.Response:
    """GET /register: a new operator signs up (when open in the settings)."""
    _registration_open(request)
    return render(request, "admin/register.html", _page_ctx({}))


async def register_submit(request: web.Request) -> web.Response:
    """POST /register: queue the tenant and its first admin."""
    _registration_open(request)
    data = await request.post()
    try:
        job = await admin_ops.submit_create_tenant(request, None, data)
    except FieldErrors as exc:
        ctx = _page_ctx({"errors": exc.fields, "form": _form_values(data)})
        return render(request, "admin/register.html", ctx, status=422)
    raise web.HTTPSeeOther(location=f"/register/{job.id}")


async def register_status(request: web.Request) -> web.Response:
    """GET /register/{job_id}: how the registration is going (refreshes until done)."""
    try:
        job = await jobs.get_job(request.app[DB_KEY], request.match_info["job_id"])
    except NotFound:
        raise web.HTTPNotFound(text="no such registration") from None
    if job.kind != "create_tenant" or job.actor_id is not None:
        raise web.HTTPNotFound(text="no such registration")
    return render(request, "admin/register_status.html", {"job": job})


def setup_admin_views(app: web.Application) -> None:
    """Register the admin panel's pages."""
    r = app.router
    r.add_get("/admin", admin_root)
    r.add_get("/admin/", dashboard)
    r.add_get("/admin/login", login_page)
    r.add_post("/admin/login", login_submit)
    r.add_post("/admin/logout", logout_submit)
    r.add_get("/admin/tenants", tenants_page)
    r.add_post("/admin/tenants", tenants_submit)
    r.add_get("/admin/users", users_page)
    r.add_post("/admin/users", users_submit)
    r.add_post("/admin/users/{admin_id}/update", user_update_submit)
    r.add_post("/admin/users/{admin_id}/delete", user_delete_submit)
    r.add_get("/admin/password", password_page)
    r.add_post("/admin/password", password_submit)
    r.add_get("/admin/jobs", jobs_page)
    r.add_post("/admin/jobs/{job_id}/retry", job_retry_submit)
    r.add_get("/register", register_page)
    r.add_post("/register", register_submit)
    r.add_get("/register/{job_id}", register_status)


async def admin_root(request: web.Request) -> web.Response:
    """GET /admin: to the dashboard."""
    return see_other("/admin/")
