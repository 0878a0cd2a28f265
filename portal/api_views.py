"""JSON API of the admin panel: sign-in, tenants, users, password, jobs (202 + job id)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hotspotd.store import admins, jobs, tenants
from hotspotd.store.errors import Conflict, NotFound
from hotspotd.store.jobs import JobRecord
from portal import admin_ops
from portal.admin_ops import FieldErrors, LoginRefused
from portal.auth import Role, require_actor
from portal.csrf import csrf_token, session_csrf_token
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.request_body import read_body
from portal.sessions import SESSION_COOKIE, current_actor, end_session
from tasks.management_enqueue import enqueue_recorded_job

MANAGERS: tuple[Role, ...] = ("system", "admin")


def status_url(job_id: str) -> str:
    """Return the URL that reports a job's state."""
    return f"/api/jobs/{job_id}"


def accepted(job: JobRecord, url: str | None = None) -> web.Response:
    """Answer 202 with the job id and where to follow it."""
    url = url or status_url(job.id)
    return web.json_response(
        {"job_id": job.id, "state": job.state, "status_url": url},
        status=202,
        headers={"Location": url},
    )


def invalid(request: web.Request, exc: FieldErrors) -> web.HTTPException:
    """Return the 422 answer for field errors."""
    return http_error(request, web.HTTPUnprocessableEntity, "invalid input", fields=exc.fields)


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise http_error(request, web.HTTPNotFound, "not found") from None


def _actor_json(actor: admins.Actor) -> dict[str, Any]:
    return {
        "admin_id": actor.admin_id,
        "username": actor.username,
        "role": actor.role,
        "tenant_id": actor.tenant_id,
    }


def _admin_json(admin: admins.Admin) -> dict[str, Any]:
    return admin.model_dump()


async def get_csrf(request: web.Request) -> web.Response:
    """GET /api/csrf: the token this client must send with state-changing calls."""
    # Loading the session decides between the session and the pre-session token.
    await current_actor(request)
    return web.json_response({"csrf_token": csrf_token(request)})


async def post_login(request: web.Request) -> web.Response:
    """POST /api/login {username, password}: a session cookie at once, or 401/429."""
    data = await read_body(request)
    response = web.json_response({})
    try:
        actor = await admin_ops.login(
            request, response, str(data.get("username", "")), str(data.get("password", ""))
        )
    except LoginRefused as exc:
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        error_cls = web.HTTPTooManyRequests if exc.status == 429 else web.HTTPUnauthorized
        raise error_cls(
            text=json.dumps({"error": str(exc)}), content_type="application/json", headers=headers
        ) from None
    token = response.cookies[SESSION_COOKIE].value
    body = {
        "actor": _actor_json(actor),
        "csrf_token": session_csrf_token(request.app[SETTINGS_KEY], token),
    }
    response.text = json.dumps(body)
    return response


async def post_logout(request: web.Request) -> web.Response:
    """POST /api/logout: end this session."""
    response = web.json_response({"signed_out": True})
    await end_session(request, response)
    return response


async def get_me(request: web.Request) -> web.Response:
    """GET /api/me: who is signed in."""
    actor = await require_actor(request)
    return web.json_response({"actor": _actor_json(actor), "csrf_token": csrf_token(request)})


async def post_register(request: web.Request) -> web.Response:
    """POST /api/register: public tenant registration (when open in the settings)."""
    if not request.app[SETTINGS_KEY].portal.registration_open:
        raise http_error(request, web.HTTPNotFound, "registration is closed")
    data = await read_body(request)
    try:
        job = await admin_ops.submit_create_tenant(request, None, data)
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job, f"/api/register/{job.id}")


async def get_registration(request: web.Request) -> web.Response:
    """GET /api/register/{job_id}: the state of an anonymous registration (id is the secret)."""
    try:
        job = await jobs.get_job(request.app[DB_KEY], request.match_info["job_id"])
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such registration") from None
    if job.kind != "create_tenant" or job.actor_id is not None:
        raise http_error(request, web.HTTPNotFound, "no such registration")
    return web.json_response({"id": job.id, "state": job.state, "error": job.error})


async def get_tenants(request: web.Request) -> web.Response:
    """GET /api/tenants: every tenant (system admins only)."""
    await require_actor(request, "system")
    rows = await tenants.list_tenants(request.app[DB_KEY])
    return web.json_response({"tenants": [t.model_dump() for t in rows]})


async def post_tenant(request: web.Request) -> web.Response:
    """POST /api/tenants: create a tenant with its first admin (202)."""
    actor = await require_actor(request, "system")
    data = await read_body(request)
    try:
        job = await admin_ops.submit_create_tenant(request, actor, data)
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job)


async def get_users(request: web.Request) -> web.Response:
    """GET /api/users: the users the caller may see (?tenant_id= for system admins)."""
    actor = await require_actor(request)
    tenant_id = request.query.get("tenant_id", "")
    if tenant_id and not tenant_id.isdigit():
        raise http_error(request, web.HTTPBadRequest, "tenant_id must be a number")
    rows = await admins.list_admins(
        request.app[DB_KEY], actor, tenant_id=int(tenant_id) if tenant_id else None
    )
    return web.json_response({"users": [_admin_json(a) for a in rows]})


async def get_user(request: web.Request) -> web.Response:
    """GET /api/users/{id}: one user the caller may see, or 404."""
    actor = await require_actor(request)
    admin = await admin_ops.target_user(request, actor, _int(request, "admin_id"))
    return web.json_response({"user": _admin_json(admin)})


async def post_user(request: web.Request) -> web.Response:
    """POST /api/users: create a user (202)."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        job = await admin_ops.submit_create_user(request, actor, data)
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job)


async def patch_user(request: web.Request) -> web.Response:
    """PATCH /api/users/{id}: change role or status (202)."""
    actor = await require_actor(request, *MANAGERS)
    data = await read_body(request)
    try:
        job = await admin_ops.submit_update_user(request, actor, _int(request, "admin_id"), data)
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job)


async def delete_user(request: web.Request) -> web.Response:
    """DELETE /api/users/{id}: delete a user (202)."""
    actor = await require_actor(request, *MANAGERS)
    try:
        job = await admin_ops.submit_delete_user(request, actor, _int(request, "admin_id"), {})
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job)


async def post_password(request: web.Request) -> web.Response:
    """POST /api/password {current_password, new_password}: change one's own password (202)."""
    actor = await require_actor(request)
    data = await read_body(request)
    try:
        job = await admin_ops.submit_password_change(request, actor, data)
    except FieldErrors as exc:
        raise invalid(request, exc) from None
    return accepted(job)


async def get_jobs(request: web.Request) -> web.Response:
    """GET /api/jobs: recent jobs of the caller's tenant (all for system admins)."""
    actor = await require_actor(request)
    rows = await jobs.list_jobs(request.app[DB_KEY], actor)
    return web.json_response({"jobs": [j.public() for j in rows]})


async def get_job(request: web.Request) -> web.Response:
    """GET /api/jobs/{id}: queued / running / done / failed, with the reason."""
    actor = await require_actor(request)
    try:
        job = await jobs.get_job_for(request.app[DB_KEY], actor, request.match_info["job_id"])
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such job") from None
    return web.json_response(job.public())


async def retry_job(request: web.Request, actor: admins.Actor, job_id: str) -> JobRecord:
    """Put a failed job back on the queue under its id."""
    try:
        job = await jobs.requeue_failed_job(request.app[DB_KEY], actor, job_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such job") from None
    except Conflict as exc:
        raise http_error(request, web.HTTPConflict, str(exc)) from None
    await enqueue_recorded_job(request.app[REDIS_KEY], request.app[SETTINGS_KEY], job)
    return job


async def post_job_retry(request: web.Request) -> web.Response:
    """POST /api/jobs/{id}/retry: run a failed job again (202)."""
    actor = await require_actor(request, *MANAGERS)
    job = await retry_job(request, actor, request.match_info["job_id"])
    return accepted(job)


async def get_dashboard(request: web.Request) -> web.Response:
    """GET /api/dashboard: live counters for the dashboard."""
    actor = await require_actor(request)
    scope = None if actor.is_system else actor.tenant_id
    counters = await tenants.dashboard_counts(request.app[DB_KEY], scope)
    return web.json_response({"counters": counters})


def setup_api_views(app: web.Application) -> None:
    """Register the admin API routes."""
    r = app.router
    r.add_get("/api/csrf", get_csrf)
    r.add_post("/api/login", post_login)
    r.add_post("/api/logout", post_logout)
    r.add_get("/api/me", get_me)
    r.add_post("/api/register", post_register)
    r.add_get("/api/register/{job_id}", get_registration)
    r.add_get("/api/tenants", get_tenants)
    r.add_post("/api/tenants", post_tenant)
    r.add_get("/api/users", get_users)
    r.add_post("/api/users", post_user)
    r.add_get("/api/users/{admin_id}", get_user)
    r.add_patch("/api/users/{admin_id}", patch_user)
    r.add_delete("/api/users/{admin_id}", delete_user)
    r.add_post("/api/password", post_password)
    r.add_get("/api/jobs", get_jobs)
    r.add_get("/api/jobs/{job_id}", get_job)
    r.add_post("/api/jobs/{job_id}/retry", post_job_retry)
    r.add_get("/api/dashboard", get_dashboard)
