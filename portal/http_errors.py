"""HTTP errors with a JSON body for the API and a short text page for browsers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

API_PREFIX = "/api/"


def wants_json(request: web.Request) -> bool:
    """Return True for API calls (JSON answers) rather than pages."""
    if request.path.startswith(API_PREFIX):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def http_error(
    request: web.Request,
    error_cls: type[web.HTTPException],
    message: str,
    **extra: Any,
) -> web.HTTPException:
    """Build an HTTP error (raise it) in the form the caller expects."""
    if wants_json(request):
        body = json.dumps({"error": message, **extra})
        return error_cls(text=body, content_type="application/json")
    return error_cls(text=message, content_type="text/plain")
