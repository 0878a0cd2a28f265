"""Middlewares of the portal: errors (outermost) and security headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from portal.http_errors import http_error

logger = logging.getLogger(__name__)

HandlerT = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Everything is served locally (the walled garden has no CDN): allow nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@web.middleware
async def error_middleware(request: web.Request, handler: HandlerT) -> web.StreamResponse:
    """Log unexpected exceptions once, answer 500 without details."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        raise http_error(request, web.HTTPInternalServerError, "internal error") from None


# The captive portal's pages post to the router's login URL, so the strict
# policy below only covers the admin panel, its API and registration.
PANEL_PREFIXES = ("/admin", "/api/", "/register", "/static/admin/")


@web.middleware
async def security_headers_middleware(
    request: web.Request, handler: HandlerT
) -> web.StreamResponse:
    """Add CSP, anti-framing and no-sniff headers to panel answers, errors included."""
    if not request.path.startswith(PANEL_PREFIXES):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _add_headers(exc)
        raise
    if not response.prepared:
        _add_headers(response)
    return response


def _add_headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
