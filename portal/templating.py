"""Jinja2 templates for the admin panel: autoescaped, loaded once, rendered with the CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from hotspotd.timeutil import to_datetime
from portal.csrf import csrf_token
from portal.sessions import cached_actor

TEMPLATES_KEY = web.AppKey("templates", jinja2.Environment)
TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _when(ts: int | None) -> str:
    return "" if ts is None else to_datetime(ts).strftime("%Y-%m-%d %H:%M UTC")


def setup_templates(app: web.Application) -> None:
    """Load the template directory and serve the panel's static files under /static/admin/."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        enable_async=False,
    )
    env.filters["when"] = _when
    app[TEMPLATES_KEY] = env
    app.router.add_static("/static/admin/", STATIC_DIR / "admin", name="admin_static")


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """Render a page with the signed-in actor and this browser's CSRF token in its context."""
    ctx: dict[str, Any] = {
        "actor": cached_actor(request),
        "csrf_token": csrf_token(request),
        "path": request.path,
        "last_event_id": 0,
    }
    ctx.update(context or {})
    body = request.app[TEMPLATES_KEY].get_template(template).render(ctx)
    response = web.Response(text=body, status=status, content_type="text/html")
    # Admin pages hold tenant data: never cache them in shared or back-forward caches.
    response.headers["Cache-Control"] = "no-store"
    return response
