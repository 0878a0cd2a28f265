"""Admin sessions: a random token in an HttpOnly SameSite cookie, its HMAC in the database."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web

from hotspotd.settings import Settings
from hotspotd.store import admins
from hotspotd.store.admins import Actor
from hotspotd.timeutil import now_s
from portal.keys import DB_KEY, SETTINGS_KEY

logger = logging.getLogger(__name__)

SESSION_COOKIE = "hotspotd_session"


@dataclass(frozen=True)
class _Loaded:
    actor: Actor | None = None
    session_id: str | None = None


_SESSION = web.RequestKey("admin_session", _Loaded)


def _secret(settings: Settings) -> bytes:
    return settings.portal.session_secret.get_secret_value().encode("utf-8")


def keyed_hash(settings: Settings, purpose: str, value: str) -> str:
    """Return HMAC-SHA256(session secret, purpose + value) as hex."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(_secret(settings), message, hashlib.sha256).hexdigest()


def session_id_for(settings: Settings, token: str) -> str:
    """Return the stored id of a session token (the token itself is only in the cookie)."""
    return keyed_hash(settings, "session", token)


def cookie_secure(settings: Settings) -> bool:
    """Return True when the panel is served over HTTPS, so cookies get the Secure flag."""
    return settings.portal.public_url.lower().startswith("https://")


def set_cookie(response: web.StreamResponse, settings: Settings, name: str, value: str) -> None:
    """Set a session-type cookie: HttpOnly, SameSite=Strict, Secure under HTTPS."""
    response.set_cookie(
        name,
        value,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(settings),
    )


async def start_session(request: web.Request, response: web.StreamResponse, admin_id: int) -> str:
    """Create a session for a signed-in admin and set its cookie; return the token."""
    settings = request.app[SETTINGS_KEY]
    token = secrets.token_urlsafe(32)
    session_id = session_id_for(settings, token)
    async with request.app[DB_KEY].transaction() as conn:
        await admins.create_session(
            conn,
            session_id,
            admin_id,
            address=request.remote,
            user_agent=request.headers.get("User-Agent"),
        )
    set_cookie(response, settings, SESSION_COOKIE, token)
    return token


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Delete the request's session, if any, and clear the cookie."""
    session_id = await current_session_id(request)
    if session_id is not None:
        await admins.delete_session(request.app[DB_KEY], session_id)
    response.del_cookie(SESSION_COOKIE, path="/")


async def _load(request: web.Request) -> _Loaded:
    loaded = request.get(_SESSION)
    if loaded is None:
        loaded = request[_SESSION] = await _read_session(request)
    return loaded


async def _read_session(request: web.Request) -> _Loaded:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return _Loaded()
    settings = request.app[SETTINGS_KEY]
    db = request.app[DB_KEY]
    session_id = session_id_for(settings, token)
    record = await admins.get_session(db, session_id)
    if record is None:
        return _Loaded()
    now = now_s()
    auth = settings.auth
    if (
        now - record.last_seen_at > auth.session_idle_timeout_s
        or now - record.created_at > auth.session_absolute_timeout_s
    ):
        await admins.delete_session(db, session_id)
        return _Loaded()
    # Write last_seen_at at most every tenth of the idle timeout: one write per
    # request would serialise every page view on the database's write lock.
    if now - record.last_seen_at >= max(1, auth.session_idle_timeout_s // 10):
        await admins.touch_session(db, session_id)
    return _Loaded(record.actor, session_id)


def cached_actor(request: web.Request) -> Actor | None:
    """Return the actor already loaded for this request (None if not loaded or anonymous)."""
    loaded = request.get(_SESSION)
    return loaded.actor if loaded is not None else None


async def current_actor(request: web.Request) -> Actor | None:
    """Return the signed-in admin of the request, or None (loaded once per request)."""
    return (await _load(request)).actor


async def current_session_id(request: web.Request) -> str | None:
    """Return the stored id of the request's live session, or None."""
    return (await _load(request)).session_id
