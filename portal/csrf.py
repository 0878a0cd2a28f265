"""CSRF protection for every state-changing request, with explicit exemptions.

A signed-in browser's token is an HMAC of its session token; before sign-in it
is an HMAC of a random pre-session cookie. Either way a page on another site
can neither read nor compute it. The token travels in the form field
``csrf_token`` or the header ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from hotspotd.settings import Settings
from portal.http_errors import http_error
from portal.keys import SETTINGS_KEY
from portal.sessions import SESSION_COOKIE, cached_actor, keyed_hash, set_cookie

logger = logging.getLogger(__name__)

CSRF_COOKIE = "hotspotd_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Path prefixes whose callers are machines with their own authentication
# (payment provider callbacks): add with add_csrf_exempt_prefix().
CSRF_EXEMPT_PREFIXES_KEY = web.AppKey("csrf_exempt_prefixes", list[str])
_NEW_COOKIE = web.RequestKey("csrf_new_cookie", str)
_EXEMPT_ATTR = "__csrf_exempt__"

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[web.StreamResponse]])


def csrf_exempt(handler: Handler) -> Handler:
    """Mark a route handler as exempt from CSRF checks (machine callbacks only)."""
    setattr(handler, _EXEMPT_ATTR, True)
    return handler


def add_csrf_exempt_prefix(app: web.Application, prefix: str) -> None:
    """Exempt every route under a path prefix from CSRF checks (before the app starts)."""
    app[CSRF_EXEMPT_PREFIXES_KEY].append(prefix)


def session_csrf_token(settings: Settings, session_token: str) -> str:
    """Return the CSRF token bound to a session token (e.g. right after sign-in)."""
    return keyed_hash(settings, "csrf-session", session_token)


def csrf_token(request: web.Request) -> str:
    """Return the token that forms and API calls of this browser must send back."""
    settings = request.app[SETTINGS_KEY]
    session = request.cookies.get(SESSION_COOKIE)
    if session and cached_actor(request) is not None:
        return session_csrf_token(settings, session)
    anon = request.cookies.get(CSRF_COOKIE) or request.get(_NEW_COOKIE)
    if not anon:
        anon = secrets.token_urlsafe(24)
        request[_NEW_COOKIE] = anon
    return keyed_hash(settings, "csrf-anon", anon)


def _expected_tokens(request: web.Request) -> list[str]:
    settings = request.app[SETTINGS_KEY]
    tokens = []
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        tokens.append(keyed_hash(settings, "csrf-session", session))
    anon = request.cookies.get(CSRF_COOKIE)
    if anon:
        tokens.append(keyed_hash(settings, "csrf-anon", anon))
    return tokens


def _is_exempt(request: web.Request) -> bool:
    handler: Any = request.match_info.handler
    if getattr(handler, _EXEMPT_ATTR, False):
        return True
    return any(request.path.startswith(p) for p in request.app[CSRF_EXEMPT_PREFIXES_KEY])


async def _supplied_token(request: web.Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached on the request; the handler reads it again
        value = form.get(CSRF_FIELD)
        if isinstance(value, str):
            return value
    return ""


@web.middleware
async def csrf_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse state-changing requests without this browser's CSRF token (403)."""
    if request.method not in SAFE_METHODS and not _is_exempt(request):
        supplied = await _supplied_token(request)
        expected = _expected_tokens(request)
        # compare_digest against each candidate: no early exit on a prefix match.
        matches = [hmac.compare_digest(supplied.encode(), t.encode()) for t in expected]
        if not supplied or not any(matches):
            logger.info("CSRF check failed: %s %s", request.method, request.path)
            raise http_error(request, web.HTTPForbidden, "CSRF token missing or wrong")
    response = await handler(request)
    new_cookie = request.get(_NEW_COOKIE)
    if new_cookie and not response.prepared:
        set_cookie(response, request.app[SETTINGS_KEY], CSRF_COOKIE, new_cookie)
    return response


def setup_csrf(app: web.Application) -> None:
    """Install the exemption list (the middleware itself is added by create_app)."""
    app[CSRF_EXEMPT_PREFIXES_KEY] = []
