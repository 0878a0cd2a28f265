"""Simulated end-user devices: arrive on a hotspot, open its login page, log in, leave."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from routers.simulator.hotspot import CLIENT_HEADER
from routers.simulator.sessions import Session, SessionManager, chap_response, normalise_mac

_OCTAL = re.compile(r"\\([0-7]{1,3})")


def decode_octal_escapes(text: str) -> bytes:
    r"""Decode login-page text such as `\357\015` (one octal escape per byte) into bytes."""
    out = bytearray()
    pos = 0
    for match in _OCTAL.finditer(text):
        out.extend(text[pos : match.start()].encode("latin-1"))
        out.append(int(match.group(1), 8) & 0xFF)
        pos = match.end()
    out.extend(text[pos:].encode("latin-1"))
    return bytes(out)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def chap_password_hex(chap_id_text: str, password: str, challenge_text: str) -> str:
    """Return the `password` a CHAP login form posts: hex MD5(chap-id + password + challenge)."""
    chap_id = decode_octal_escapes(chap_id_text)
    return chap_response(chap_id[0], password, decode_octal_escapes(challenge_text)).hex()


@dataclass
class LoginPage:
    """The router's login-page variables (as redirected to the portal, or as the built-in page)."""

    params: dict[str, str]
    # Where the router sent the browser (the portal URL with the variables), None without portal.
    location: str | None = None

    @property
    def link_login_only(self) -> str:
        """Return the URL the login form posts to."""
        return self.params["link-login-only"]

    @property
    def chap_id(self) -> str:
        """Return the `chap-id` text (empty when CHAP is off)."""
        return self.params.get("chap-id", "")

    @property
    def chap_challenge(self) -> str:
        """Return the `chap-challenge` text."""
        return self.params.get("chap-challenge", "")

    @property
    def error(self) -> str:
        """Return the `error` text of the page (empty when none)."""
        return self.params.get("error", "")


@dataclass
class LoginAttempt:
    """What happened when a login form was posted."""

    ok: bool
    status: int
    location: str | None = None
    error: str = ""
    error_orig: str = ""
    page: LoginPage | None = None
    body: dict[str, Any] = field(default_factory=dict)


class SimulatedClient:
    """One device on a simulated hotspot, identified by MAC and IP."""

    def __init__(
        self,
        sessions: SessionManager,
        http: aiohttp.ClientSession,
        base_url: str,
        *,
        mac: str,
        ip: str,
    ) -> None:
        self.sessions = sessions
        self.mac = normalise_mac(mac)
        self.ip = ip
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._headers = {CLIENT_HEADER: self.mac, "Accept": "application/json"}

    def arrive(self) -> None:
        """Appear in /ip/hotspot/host (called by the router's `arrive`)."""
        self.sessions.add_host(self.mac, self.ip)

    def leave(self) -> None:
        """Disappear: the session ends (Lost-Carrier) and the host row goes."""
        self.sessions.remove_host(self.mac)

    @property
    def session(self) -> Session | None:
        """Return the client's active session, or None."""
        return self.sessions.session(self.mac)

    @property
    def logged_in(self) -> bool:
        """Return whether the client has an active session."""
        return self.session is not None

    async def open_login_page(self, dst: str = "http://example.com/") -> LoginPage:
        """Request the router's login page, as a browser redirected by the hotspot would."""
        async with self._http.get(
            f"{self.base_url}/login",
            params={"dst": dst},
            headers=self._headers,
            allow_redirects=False,
        ) as response:
            return await self._page(response)

    async def _page(self, response: aiohttp.ClientResponse) -> LoginPage:
        if response.status in (301, 302, 303, 307):
            location = response.headers["Location"]
            return LoginPage(_query(location), location=location)
        response.raise_for_status()
        body = await response.json()
        return LoginPage({str(k): str(v) for k, v in body.items()})

    async def submit(
        self,
        page: LoginPage,
        username: str,
        password: str,
        *,
        chap: bool = True,
        dst: str | None = None,
    ) -> LoginAttempt:
        """Post the login form to `link-login-only` (CHAP hash when the page has a challenge)."""
        if chap and page.chap_id:
            password = chap_password_hex(page.chap_id, password, page.chap_challenge)
        form = {
            "username": username,
            "password": password,
            "dst": dst if dst is not None else page.params.get("dst", ""),
            "popup": "true",
        }
        async with self._http.post(
            page.link_login_only, data=form, headers=self._headers, allow_redirects=False
        ) as response:
            location = response.headers.get("Location")
            body: dict[str, Any] = {}
            if response.status == 200 and response.content_type == "application/json":
                body = await response.json()
            status = response.status
        ok = self.logged_in
        next_page: LoginPage | None = None
        if not ok:
            if location is not None:
                next_page = LoginPage(_query(location), location)
            elif body:
                next_page = LoginPage({str(k): str(v) for k, v in body.items()})
        return LoginAttempt(
            ok=ok,
            status=status,
            location=location,
            error=next_page.error if next_page else "",
            error_orig=next_page.params.get("error-orig", "") if next_page else "",
            page=next_page,
            body=body,
        )

    async def login(
        self,
        username: str,
        password: str,
        *,
        dst: str = "http://example.com/",
        chap: bool = True,
    ) -> LoginAttempt:
        """Open the login page and post the form, like a browser through the portal."""
        page = await self.open_login_page(dst)
        return await self.submit(page, username, password, chap=chap)

    def add_traffic(self, up: int, down: int) -> None:
        """Count traffic: `up` bytes sent by the client (bytes-in), `down` received (bytes-out)."""
        self.sessions.add_traffic(self.mac, up, down)

    async def status(self) -> dict[str, Any]:
        """Return the router's status page for this client, as JSON."""
        async with self._http.get(f"{self.base_url}/status", headers=self._headers) as response:
            result: dict[str, Any] = await response.json()
            return result

    async def logout(self) -> None:
        """Log out through the router's /logout page (Stop with User-Request)."""
        async with self._http.post(f"{self.base_url}/logout", headers=self._headers) as response:
            response.raise_for_status()
