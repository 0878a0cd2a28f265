"""Headless Chromium through the customers pages: look a customer up by phone and see their
live session and their usage, both from radacct; suspend them and watch the page follow live.

Real components: a private FreeRADIUS on the portal's database, the router simulator registered
for the tenant, a subscription provisioned by the provisioning job, a simulated client logging
in through the router's login page (CHAP), the portal served for real and the critical queue's
arq worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from arq.connections import create_pool
from playwright.async_api import async_playwright

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import customers, subscriptions
from radius.accounting import open_sessions, user_sessions
from tasks.context import DB, SETTINGS
from tasks.provisioning import provision_hotspot_user
from tasks.worker import redis_settings
from tests.portal.conftest import PASSWORD, TEST_SCRYPT_N, make_admin
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.domain import make_pending_subscription, make_plan, make_tenant
from tests.support.fake_radius import wait_until
from tests.support.freeradius import RadiusServer, freeradius_on_new_database
from tests.support.hotspot_box import box_settings_for, registered_router, until
from tests.support.worker import running_worker

PHONE = "254711222333"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def radius_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    """A migrated database file and a FreeRADIUS reading it."""
    with freeradius_on_new_database(tmp_path_factory.mktemp("freeradius")) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], radius_server: RadiusServer) -> Settings:
    """The portal's settings on FreeRADIUS's database (cheap password hashing)."""

    def make(**sections: dict[str, Any]) -> Settings:
        return make_settings(auth={"password_scrypt_n": TEST_SCRYPT_N}, **sections)

    return box_settings_for(make, radius_server)


async def test_browser_customer_lookup_shows_live_session_and_usage(
    portal_url: str, settings: Settings, database: Database
) -> None:
    tenant = await make_tenant(database, "kiosk")
    await make_admin(database, "kiosk-owner", "admin", tenant.id)
    async with database.transaction() as conn:
        # Another customer of the tenant, whom the search must leave out.
        await customers.upsert_customer(conn, tenant.id, phone="254799888777")
    plan = await make_plan(database, tenant, name="Day pass", shared_devices=1)
    pending = await make_pending_subscription(database, tenant, plan, phone=PHONE)
    pool = await create_pool(redis_settings(settings))
    try:
        await provision_hotspot_user({DB: database, SETTINGS: settings, "redis": pool}, pending.id)
    finally:
        await pool.aclose()
    sub = await subscriptions.get_subscription(database, tenant.id, pending.id)
    assert sub.status == "active"

    async with registered_router(database, settings, tenant) as router:
        client = router.arrive()
        # A first session with traffic, ended by the user: its Stop carries the bytes.
        assert (await client.login(sub.username, sub.password)).ok
        first = client.session
        assert first is not None
        client.add_traffic(MIB, 2 * MIB)
        await client.logout()
        await first.wait_closed()
        assert first.accounting_sent == ["Start", "Stop"]

        # Online again: an open session in radacct (its Start reached FreeRADIUS).
        assert (await client.login(sub.username, sub.password)).ok
        live = client.session
        assert live is not None

        async def started() -> bool:
            return bool(await open_sessions(database, sub.username))

        await until(started)
        rows = await user_sessions(database, sub.username)
        assert sum(r.input_octets + r.output_octets for r in rows) == 3 * MIB

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 390, "height": 800})
                page.set_default_timeout(TIMEOUT_MS)
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

                await page.goto(f"{portal_url}/admin/customers")
                await page.fill("#username", "kiosk-owner")
                await page.fill("#password", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{portal_url}/admin/customers")

                await page.locator("#q").press_sequentially(PHONE)
                await page.locator("#q").press("Enter")
                await page.wait_for_url(f"**/admin/customers?q={PHONE}")
                hits = page.locator("#customers tr[data-customer-id]")
                assert await hits.count() == 1
                row_text = await hits.first.inner_text()
                assert sub.username in row_text and "active" in row_text

                await page.click(f"#customers a:text('{PHONE}')")
                await page.wait_for_url(f"**/admin/customers/{sub.customer_id}")
                card = page.locator(f'.subscription[data-subscription-id="{sub.id}"]')
                text = await card.inner_text()
                assert "Status active (online)" in text
                # Usage from radacct: the finished session's 3 MiB.
                assert "Used 0 min, 3.0 MiB since" in text

                sessions = card.locator("table.sessions tbody tr")
                assert await sessions.count() == 2
                # Newest first: the live session, with the client's address and MAC.
                now_row = await sessions.nth(0).inner_text()
                assert "online" in now_row
                assert client.ip in now_row and client.mac in now_row.upper()
                ended_row = await sessions.nth(1).inner_text()
                assert "online" not in ended_row
                assert "3.0 MiB" in ended_row and "User-Request" in ended_row

                # Suspend from the page; the worker's AccountSuspended updates it live.
                await card.locator("button:text('Suspend')").click()
                await page.wait_for_url("**/admin/customers/*?notice=suspend*")
                await page.wait_for_selector("#live.on")  # the WebSocket is connected
                assert await card.get_attribute("data-status") == "active"
                async with running_worker(settings, "critical"):
                    await page.locator(
                        f'.subscription[data-subscription-id="{sub.id}"][data-status="suspended"]'
                    ).wait_for()
                    await wait_until(lambda: not client.logged_in, timeout_s=20)
                assert "Status suspended" in await card.inner_text()
                assert errors == []
            finally:
                await browser.close()
        await live.wait_closed()
        assert live.end_cause == "Admin-Reset"
