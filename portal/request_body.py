"""Read a request's body the same way in every view: a JSON object or form fields."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from portal.http_errors import http_error


async def read_body(request: web.Request) -> dict[str, Any]:
    """Return the JSON object, or the text form fields without the CSRF token; 400 otherwise."""
    if request.content_type == "application/json":
        try:
            data = await request.json()
        except json.JSONDecodeError:
            raise http_error(request, web.HTTPBadRequest, "body is not JSON") from None
        if not isinstance(data, dict):
            raise http_error(request, web.HTTPBadRequest, "body must be a JSON object")
        return data
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
