"""A real browser (headless Chromium) through the simulated hotspot and a stand-in portal."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from routers.simulator.clients import chap_password_hex
from routers.simulator.run import RunningRouter, SimulatorConfig, start_simulator
from tests.support.fake_radius import FakeRadiusServer, hotspot_router_config

CHROMIUM = "/usr/bin/chromium"


async def _portal(request: web.Request) -> web.Response:
    """Like the product's portal: compute the CHAP response and auto-submit the router's form."""
    q = request.query
    password = chap_password_hex(q["chap-id"], "s3cret", q["chap-challenge"])
    fields = {"username": "alice", "password": password, "dst": q["dst"], "popup": "true"}
    inputs = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(v)}'>" for k, v in fields.items()
    )
    page = (
        f"<form id='f' method='post' action='{html.escape(q['link-login-only'])}'>{inputs}</form>"
        "<script>document.getElementById('f').submit()</script>"
    )
    return web.Response(text=page, content_type="text/html")


async def _destination(request: web.Request) -> web.Response:
    return web.Response(text="<title>destination</title>you are online", content_type="text/html")


@pytest.fixture
async def portal_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/portal", _portal)
    app.router.add_get("/dst", _destination)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # Another address than the router's: the form post is cross-site, as in production.
    site = web.TCPSite(runner, "127.0.0.9", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.9:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("how", ["header", "assume-last-client"])
async def test_hotspot_browser_logs_in_through_portal_form(portal_url: str, how: str) -> None:
    async with FakeRadiusServer() as radius:
        radius.add_user("alice", "s3cret")
        config = hotspot_router_config(
            radius,
            portal_url=f"{portal_url}/portal",
            assume_last_client=how == "assume-last-client",
        )
        async with await start_simulator(SimulatorConfig((config,))) as simulator:
            router: RunningRouter = simulator[0]
            client = router.arrive()
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM)
                try:
                    headers = {"X-Sim-Client-Mac": client.mac} if how == "header" else {}
                    context = await browser.new_context(extra_http_headers=headers)
                    page = await context.new_page()
                    start = f"{router.hotspot_url}/login?dst={portal_url}/dst"
                    if how != "header":
                        start += f"&sim-mac={client.mac}"
                    await page.goto(start)
                    await page.wait_for_url(f"{portal_url}/dst", timeout=10_000)
                    assert "you are online" in await page.content()
                    await context.close()
                finally:
                    await browser.close()
            assert client.logged_in
            assert radius.auth_results == ["accept"]
