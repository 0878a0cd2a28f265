"""HTTP login servlet of a simulated MikroTik hotspot: /login (portal redirect), /status, /logout.

All simulated clients reach it from 127.0.0.1, so a request names its client (a host in
/ip/hotspot/host) by the `X-Sim-Client-Mac` header, a `sim-mac` query/form field (remembered in
a cookie), or, failing those, by its source address when a client binds to the host's own IP.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import web

from routers.simulator.model import format_duration
from routers.simulator.sessions import LoginError, Session, SessionManager, normalise_mac

logger = logging.getLogger(__name__)

CLIENT_HEADER = "X-Sim-Client-Mac"
CLIENT_PARAM = "sim-mac"
CLIENT_COOKIE = "sim-mac"
MAX_DST_LENGTH = 2048

SESSIONS_KEY = web.AppKey("sessions", SessionManager)
SERVER_KEY: web.AppKey[HotspotServer] = web.AppKey("hotspot_server")


def _safe_dst(dst: str) -> str | None:
    """Return dst if it is an absolute http(s) URL of sane length (it is attacker-controlled)."""
    if not dst or len(dst) > MAX_DST_LENGTH:
        return None
    parts = urlsplit(dst)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return dst


def _redirect(location: str) -> web.Response:
    # A plain 302 response (returning aiohttp's HTTPFound is deprecated; raising skips cookies).
    return web.Response(status=302, headers={"Location": location})


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or "json" in request.query


def _page(title: str, body: str, status: int = 200) -> web.Response:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)


def session_status(session: Session, now: float) -> dict[str, Any]:
    """Return what the status page shows about a session."""
    status: dict[str, Any] = {
        "logged-in": "yes",
        "username": session.user,
        "ip": session.ip,
        "mac": session.mac,
        "uptime": format_duration(session.uptime_s(now)),
        "bytes-in": session.bytes_in,
        "bytes-out": session.bytes_out,
        "acct-session-id": session.acct_session_id,
        "login-by": session.login_by,
        "rate-limit": session.rate_limit or "",
    }
    if session.session_deadline is not None:
        status["session-time-left"] = format_duration(session.session_deadline - now)
    return status


class HotspotServer:
    """Serves one simulated router's hotspot pages over HTTP."""

    def __init__(
        self,
        sessions: SessionManager,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        portal_url: str | None = None,
        public_url: str | None = None,
        assume_last_client: bool = False,
    ) -> None:
        self.sessions = sessions
        # Demo aid: a request that names no client is taken to come from the client whose login
        # page was served last (a browser posting the portal's form cross-site sends no cookie).
        self.assume_last_client = assume_last_client
        self._last_page_mac: str | None = None
        self.host = host
        self.port = port
        # The external captive portal the login page redirects to; None serves a built-in form.
        self.portal_url = portal_url
        self._public_url = public_url
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Return the base URL clients use (`http://host:port`)."""
        if self._public_url:
            return self._public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def login_url(self) -> str:
        """Return `$(link-login-only)`."""
        return f"{self.url}/login"

    def create_app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application()
        app[SESSIONS_KEY] = self.sessions
        app[SERVER_KEY] = self
        app.router.add_route("GET", "/login", self._login)
        app.router.add_route("POST", "/login", self._login)
        app.router.add_route("GET", "/status", self._status)
        app.router.add_route("GET", "/logout", self._logout)
        app.router.add_route("POST", "/logout", self._logout)
        app.router.add_route("GET", "/{tail:.*}", self._other)
        return app

    async def start(self) -> None:
        """Listen; with port 0 a free port is chosen and stored in `port`."""
        runner = web.AppRunner(self.create_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        logger.info("hotspot %s: login page on %s", self.sessions.identity, self.login_url)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- client identification --------------------------------------------------------------------
    def _client_mac(self, request: web.Request, form: dict[str, str]) -> str | None:
        for candidate in (
            request.headers.get(CLIENT_HEADER),
            request.query.get(CLIENT_PARAM),
            form.get(CLIENT_PARAM),
            request.cookies.get(CLIENT_COOKIE),
        ):
            if candidate:
                try:
                    return normalise_mac(candidate)
                except ValueError:
                    return None
        if request.remote and request.remote != self.host:
            host = self.sessions.host(ip=request.remote)
            if host is not None:
                return host["mac-address"]
        if self.assume_last_client and self._last_page_mac is not None:
            return self._last_page_mac
        return None

    @staticmethod
    async def _form(request: web.Request) -> dict[str, str]:
        values = {k: v for k, v in request.query.items()}
        if request.method == "POST":
            posted = await request.post()
            values.update({k: v for k, v in posted.items() if isinstance(v, str)})
        return values

    def _unknown_client(self) -> web.Response:
        return _page(
            "Unknown client",
            f"<p>No hotspot host matches this request. Send the client's MAC in the "
            f"{CLIENT_HEADER} header or the {CLIENT_PARAM} parameter.</p>",
            status=403,
        )

    def _remember(self, response: web.StreamResponse, request: web.Request, mac: str) -> None:
        if request.query.get(CLIENT_PARAM) and request.cookies.get(CLIENT_COOKIE) != mac:
            response.set_cookie(CLIENT_COOKIE, mac, httponly=True, samesite="Lax")

    # -- pages ---------------------------------------------------------------------------------
    def login_params(self, mac: str, dst: str, error: LoginError | None = None) -> dict[str, str]:
        """Issue a challenge and return the login page's variables, as passed to the portal."""
        host = self.sessions.host(mac)
        assert host is not None
        challenge = self.sessions.issue_challenge(mac)
        server = self.sessions.server()
        link_orig = _safe_dst(dst) or ""
        link_login = self.login_url + (f"?dst={quote(link_orig, safe='')}" if link_orig else "")
        return {
            "mac": host["mac-address"],
            "ip": host["address"],
            "username": "",
            "link-login": link_login,
            "link-login-only": self.login_url,
            "link-orig": link_orig,
            "link-orig-esc": quote(link_orig, safe=""),
            "chap-id": challenge.chap_id_text,
            "chap-challenge": challenge.challenge_text,
            "error": error.text if error else "",
            "error-orig": error.code if error else "",
            "server-name": server.get("name", "hotspot1"),
            "identity": self.sessions.identity,
            "interface-name": server.get("interface", "bridge"),
            "dst": link_orig,
        }

    def _login_page(
        self, request: web.Request, mac: str, dst: str, error: LoginError | None = None
    ) -> web.StreamResponse:
        params = self.login_params(mac, dst, error)
        self._last_page_mac = mac
        response: web.StreamResponse
        if self.portal_url:
            separator = "&" if "?" in self.portal_url else "?"
            response = _redirect(self.portal_url + separator + urlencode(params))
        elif _wants_json(request):
            response = web.json_response(params)
        else:
            hidden = "".join(
                f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
                for k, v in (("dst", params["dst"]), (CLIENT_PARAM, mac))
            )
            rows = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                for k, v in params.items()
            )
            error_html = f"<p class='error'>{html.escape(error.text)}</p>" if error else ""
            response = _page(
                "Hotspot login",
                f"{error_html}<form method='post' action='/login'>{hidden}"
                "<input name='username' placeholder='username'>"
                "<input name='password' type='password' placeholder='password'>"
                "<button>Log in</button></form><table>" + rows + "</table>",
            )
        self._remember(response, request, mac)
        return response

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await self._form(request)
        mac = self._client_mac(request, form)
        if mac is None or self.sessions.host(mac) is None:
            return self._unknown_client()
        dst = form.get("dst", "")
        if self.sessions.session(mac) is not None:
            return self._logged_in(request, mac, dst)
        if "username" not in form:
            return self._login_page(request, mac, dst)
        username = form.get("username", "")
        try:
            credentials = self.sessions.http_credentials(mac, username, form.get("password", ""))
            await self.sessions.login(mac, credentials)
        except LoginError as exc:
            logger.info(
                "hotspot %s: login of %s from %s failed: %s",
                self.sessions.identity,
                username,
                mac,
                exc.code,
            )
            return self._login_page(request, mac, dst, exc)
        return self._logged_in(request, mac, dst)

    def _logged_in(self, request: web.Request, mac: str, dst: str) -> web.StreamResponse:
        """Answer like alogin.html: go on to where the client was heading, else the status page."""
        response = _redirect(_safe_dst(dst) or f"{self.url}/status")
        self._remember(response, request, mac)
        return response

    async def _status(self, request: web.Request) -> web.StreamResponse:
        mac = self._client_mac(request, dict(request.query))
        session = self.sessions.session(mac) if mac else None
        if session is None:
            if _wants_json(request):
                return web.json_response({"logged-in": "no"})
            return _redirect(f"{self.url}/login")
        status = session_status(session, asyncio.get_running_loop().time())
        if _wants_json(request):
            return web.json_response(status)
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in status.items()
        )
        return _page(
            "Hotspot status",
            f"<table>{rows}</table><form method='post' action='/logout'>"
            "<button>Log out</button></form>",
        )

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        form = await self._form(request)
        mac = self._client_mac(request, form)
        session = self.sessions.session(mac) if mac else None
        if session is None:
            if _wants_json(request):
                return web.json_response({"logged-in": "no"})
            return _redirect(f"{self.url}/login")
        await self.sessions.logout(session, "User-Request")
        if _wants_json(request):
            return web.json_response({"logged-in": "no", "username": session.user})
        return _page("Logged out", f"<p>{html.escape(session.user)} logged out.</p>")

    async def _other(self, request: web.Request) -> web.StreamResponse:
        mac = self._client_mac(request, dict(request.query))
        if mac is not None and self.sessions.session(mac) is not None:
            return _redirect(f"{self.url}/status")
        return _redirect(f"{self.url}/login")
