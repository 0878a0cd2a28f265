"""Who is calling: the signed-in admin (Actor) and the role checks every view makes.

Roles are not a hierarchy: a view lists every role it admits, e.g.
``await require_actor(request, "system", "admin")`` for tenant management and
``await require_actor(request)`` for anything a signed-in admin may read.
Tenant scoping is the store's job: pass the Actor to the store functions.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from hotspotd.store.admins import ROLES, Actor, Role
from portal.http_errors import http_error, wants_json
from portal.sessions import current_actor

__all__ = ["ROLES", "Actor", "Role", "login_url", "optional_actor", "require_actor"]

LOGIN_PATH = "/admin/login"


def login_url(next_path: str | None = None) -> str:
    """Return the sign-in page URL, coming back to next_path (a local path) afterwards."""
    if not next_path:
        return LOGIN_PATH
    return f"{LOGIN_PATH}?next={quote(next_path, safe='')}"


async def optional_actor(request: web.Request) -> Actor | None:
    """Return the signed-in admin, or None for an anonymous request."""
    return await current_actor(request)


async def require_actor(request: web.Request, *roles: Role) -> Actor:
    """Return the signed-in admin; 401 (API) or a redirect to sign-in (pages); 403 on role."""
    actor = await current_actor(request)
    if actor is None:
        if wants_json(request):
            raise http_error(request, web.HTTPUnauthorized, "sign-in required")
        next_path = request.path_qs if request.method == "GET" else None
        raise web.HTTPSeeOther(location=login_url(next_path))
    if roles and actor.role not in roles:
        raise http_error(request, web.HTTPForbidden, "not allowed for your role")
    return actor
