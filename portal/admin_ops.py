"""What the API and the admin pages both do: validate input, then queue the job (202).

Validation answers at once (FieldErrors -> 422 with one message per field); the
work itself runs in the management worker and reports through its job row
and an event.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from hotspotd.passwords import verify_password
from hotspotd.store import admins, tenants
from hotspotd.store.admins import Actor
from hotspotd.store.errors import NotFound
from hotspotd.store.jobs import JobRecord
from hotspotd.timeutil import now_s
from portal import ratelimit
from portal.http_errors import http_error
from portal.keys import DB_KEY, REDIS_KEY, SETTINGS_KEY
from portal.sessions import current_session_id, start_session
from tasks import management_enqueue as enqueue

logger = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
MAX_PASSWORD = 128
IDEMPOTENCY_HEADER = "Idempotency-Key"
REQUEST_ID_FIELD = "request_id"


class FieldErrors(Exception):
    """Input is invalid; one message per field."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("invalid input")
        self.fields = fields


class LoginRefused(Exception):
    """Sign-in refused: wrong credentials (401) or locked out (429)."""

    def __init__(self, status: int, message: str, retry_after_s: int = 0):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _raw(data: Mapping[str, Any], key: str) -> str:
    # Passwords are taken as typed: leading or trailing spaces are part of them.
    value = data.get(key)
    return value if isinstance(value, str) else ""


def request_key(request: web.Request, data: Mapping[str, Any]) -> str | None:
    """Return the client's idempotency key (header, or the form's request_id), if any."""
    key = request.headers.get(IDEMPOTENCY_HEADER) or _text(data, REQUEST_ID_FIELD)
    return key[:100] if key else None


async def _replayed(
    request: web.Request, actor: Actor | None, data: Mapping[str, Any]
) -> JobRecord | None:
    # The same request again (a double click, a resent form): the same job, not a new one.
    key = request_key(request, data)
    if key is None:
        return None
    return await enqueue.replayed_job(request.app[DB_KEY], actor.admin_id if actor else None, key)


def _check_username(errors: dict[str, str], username: str, field: str = "username") -> None:
    if not USERNAME_RE.fullmatch(username):
        errors[field] = "3-32 letters, digits, '.', '_' or '-', starting with a letter or digit"


def _check_password(
    request: web.Request, errors: dict[str, str], password: str, username: str, field: str
) -> None:
    minimum = request.app[SETTINGS_KEY].auth.password_min_length
    if len(password) < minimum:
        errors[field] = f"at least {minimum} characters"
    elif len(password) > MAX_PASSWORD:
        errors[field] = f"at most {MAX_PASSWORD} characters"
    elif password.lower() == username.lower():
        errors[field] = "must not be the user name"


def _tenant_id_field(data: Mapping[str, Any]) -> int | str | None:
    value = data.get("tenant_id")
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        return "invalid"


async def submit_create_user(
    request: web.Request, actor: Actor, data: Mapping[str, Any]
) -> JobRecord:
    """Validate and queue creation of a user; the actor's tenant unless a system admin picks."""
    earlier = await _replayed(request, actor, data)
    if earlier is not None:
        return earlier
    db = request.app[DB_KEY]
    errors: dict[str, str] = {}
    username = _text(data, "username")
    password = _raw(data, "password")
    role = _text(data, "role") or "staff"
    _check_username(errors, username)
    _check_password(request, errors, password, username, "password")
    tenant_field = _tenant_id_field(data)
    tenant_id: int | None
    if actor.is_system:
        if role not in ("system", "admin", "staff"):
            errors["role"] = "one of system, admin, staff"
        if tenant_field == "invalid":
            errors["tenant_id"] = "a tenant id"
            tenant_id = None
        else:
            tenant_id = tenant_field if isinstance(tenant_field, int) else None
        if role == "system" and tenant_id is not None:
            errors["tenant_id"] = "system admins belong to no tenant"
        elif role in ("admin", "staff") and tenant_id is None and "tenant_id" not in errors:
            errors["tenant_id"] = "choose the tenant"
        elif tenant_id is not None and "tenant_id" not in errors:
            try:
                await tenants.get_tenant(db, tenant_id)
            except NotFound:
                errors["tenant_id"] = "no such tenant"
    else:
        if role not in ("admin", "staff"):
            errors["role"] = "one of admin, staff"
        if tenant_field is not None and tenant_field != actor.tenant_id:
            raise http_error(request, web.HTTPForbidden, "not your tenant")
        tenant_id = actor.tenant_id
    if "username" not in errors and await admins.username_taken(db, username):
        errors["username"] = "this user name is taken"
    if errors:
        raise FieldErrors(errors)
    job, _ = await enqueue.enqueue_create_admin_user(
        db,
        request.app[REDIS_KEY],
        request.app[SETTINGS_KEY],
        actor=actor,
        tenant_id=tenant_id,
        username=username,
        role=role,  # type: ignore[arg-type]  # checked above
        password=password,
        request_key=request_key(request, data),
    )
    return job


async def target_user(request: web.Request, actor: Actor, admin_id: int) -> admins.Admin:
    """Return a user the actor may manage, or raise 404 (other tenants' users do not exist)."""
    try:
        return await admins.get_admin(request.app[DB_KEY], actor, admin_id)
    except NotFound:
        raise http_error(request, web.HTTPNotFound, "no such user") from None


async def submit_update_user(
    request: web.Request, actor: Actor, admin_id: int, data: Mapping[str, Any]
) -> JobRecord:
    """Validate and queue a change of a user's role or status."""
    earlier = await _replayed(request, actor, data)
    if earlier is not None:
        return earlier
    target = await target_user(request, actor, admin_id)
    errors: dict[str, str] = {}
    role = _text(data, "role") or None
    status = _text(data, "status") or None
    if role is not None:
        allowed = ("system",) if target.role == "system" else ("admin", "staff")
        if role not in allowed:
            errors["role"] = "one of " + ", ".join(allowed)
    if status is not None and status not in ("active", "disabled"):
        errors["status"] = "active or disabled"
    if role is None and status is None:
        errors["role"] = "nothing to change"
    if target.id == actor.admin_id and (status == "disabled" or (role and role != actor.role)):
        errors["status" if status == "disabled" else "role"] = "you cannot lock yourself out"
    if errors:
        raise FieldErrors(errors)
    job, _ = await enqueue.enqueue_update_admin_user(
        request.app[DB_KEY],
        request.app[REDIS_KEY],
        request.app[SETTINGS_KEY],
        actor=actor,
        tenant_id=target.tenant_id,
        admin_id=target.id,
        username=target.username,
        role=role,  # type: ignore[arg-type]  # checked above
        status=status,  # type: ignore[arg-type]
        request_key=request_key(request, data),
    )
    return job


async def submit_delete_user(
    request: web.Request, actor: Actor, admin_id: int, data: Mapping[str, Any]
) -> JobRecord:
    """Validate and queue deletion of a user (never oneself)."""
    earlier = await _replayed(request, actor, data)
    if earlier is not None:
        return earlier
    target = await target_user(request, actor, admin_id)
    if target.id == actor.admin_id:
        raise FieldErrors({"admin_id": "you cannot delete yourself"})
    job, _ = await enqueue.enqueue_delete_admin_user(
        request.app[DB_KEY],
        request.app[REDIS_KEY],
        request.app[SETTINGS_KEY],
        actor=actor,
        tenant_id=target.tenant_id,
        admin_id=target.id,
        username=target.username,
        request_key=request_key(request, data),
    )
    return job


async def submit_create_tenant(
    request: web.Request, actor: Actor | None, data: Mapping[str, Any]
) -> JobRecord:
    """Validate and queue a new tenant with its first admin (registration or system admin)."""
    earlier = await _replayed(request, actor, data)
    if earlier is not None:
        return earlier
    db = request.app[DB_KEY]
    errors: dict[str, str] = {}
    slug = _text(data, "slug").lower()
    name = _text(data, "name")
    username = _text(data, "admin_username")
    password = _raw(data, "password")
    if not SLUG_RE.fullmatch(slug):
        errors["slug"] = "2-32 lowercase letters, digits or '-'"
    if not 1 <= len(name) <= 80:
        errors["name"] = "1-80 characters"
    _check_username(errors, username, "admin_username")
    _check_password(request, errors, password, username, "password")
    if "slug" not in errors:
        try:
            await tenants.get_tenant_by_slug(db, slug)
            errors["slug"] = "this slug is taken"
        except NotFound:
            pass
    if "admin_username" not in errors and await admins.username_taken(db, username):
        errors["admin_username"] = "this user name is taken"
    if errors:
        raise FieldErrors(errors)
    job, _ = await enqueue.enqueue_create_tenant(
        db,
        request.app[REDIS_KEY],
        request.app[SETTINGS_KEY],
        actor=actor,
        slug=slug,
        name=name,
        admin_username=username,
        password=password,
        request_key=request_key(request, data),
    )
    return job


async def _verify(request: web.Request, password: str, encoded: str | None) -> bool:
    n = request.app[SETTINGS_KEY].auth.password_scrypt_n
    # scrypt takes tens of milliseconds of CPU: off the event loop.
    return await asyncio.to_thread(verify_password, password, encoded, n=n)


async def submit_password_change(
    request: web.Request, actor: Actor, data: Mapping[str, Any]
) -> JobRecord:
    """Check the current password at once, then queue the change (other sessions end)."""
    earlier = await _replayed(request, actor, data)
    if earlier is not None:
        return earlier
    db = request.app[DB_KEY]
    errors: dict[str, str] = {}
    current = _raw(data, "current_password")
    new = _raw(data, "new_password")
    _check_password(request, errors, new, actor.username, "new_password")
    if new and new == current:
        errors["new_password"] = "must differ from the current password"
    creds = await admins.get_credentials(db, actor.username)
    if creds is None or not await _verify(request, current, creds.password_hash):
        errors["current_password"] = "wrong password"
    if errors:
        raise FieldErrors(errors)
    job, _ = await enqueue.enqueue_update_password(
        db,
        request.app[REDIS_KEY],
        request.app[SETTINGS_KEY],
        actor=actor,
        password=new,
        keep_session=await current_session_id(request),
        request_key=request_key(request, data),
    )
    return job


async def login(
    request: web.Request, response: web.StreamResponse, username: str, password: str
) -> Actor:
    """Check credentials now and start a session; raise LoginRefused (401/429)."""
    settings = request.app[SETTINGS_KEY]
    db = request.app[DB_KEY]
    redis = request.app[REDIS_KEY]
    address = request.remote
    username = username.strip()[:100]
    lockout = await ratelimit.check_lockout(redis, settings, username, address)
    if lockout.locked:
        raise LoginRefused(429, "too many failed sign-ins; try again later", lockout.retry_after_s)
    creds = await admins.get_credentials(db, username) if username else None
    ok = await _verify(request, password, creds.password_hash if creds else None)
    now = now_s()
    if not ok or creds is None or creds.admin.status != "active":
        await ratelimit.count_failure(redis, settings, username, address)
        reason = "unknown user" if creds is None else "disabled" if ok else "wrong password"
        await enqueue.enqueue_track_failed_login(
            db,
            redis,
            settings,
            username=username,
            address=address,
            reason=reason,
            at=now,
            tenant_id=creds.admin.tenant_id if creds else None,
            admin_id=creds.admin.id if creds else None,
        )
        raise LoginRefused(401, "wrong user name or password")
    await ratelimit.clear_failures(redis, settings, username)
    await start_session(request, response, creds.admin.id)
    actor = creds.admin.actor()
    await enqueue.enqueue_update_login_stats(
        db, redis, settings, actor=actor, address=address, at=now
    )
    logger.info("admin %s signed in from %s", actor.username, address)
    return actor


def safe_next(value: str | None) -> str:
    """Return a local admin path to go to after sign-in; anything else goes to the dashboard."""
    if (
        value
        and value.startswith("/admin")
        and not value.startswith("//")
        and "\\" not in value
        and "://" not in value
        and not any(ord(c) < 32 for c in value)
    ):
        return value
    return "/admin/"
