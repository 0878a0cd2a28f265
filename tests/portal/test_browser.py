"""Headless Chromium through the real admin panel: sign in, create a user, see it go live."""

from __future__ import annotations

from playwright.async_api import Page, async_playwright

from hotspotd.db import Database
from hotspotd.settings import Settings
from tests.portal.conftest import PASSWORD, make_admin, make_tenant, management_worker
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS


async def _create_user(page: Page, username: str) -> None:
    await page.fill("#new-user #username", username)
    await page.fill("#new-user #password", PASSWORD)
    await page.select_option("#new-user #role", "staff")
    await page.click("#new-user button[type=submit]")


async def test_browser_creates_user_and_sees_it_confirmed_live(
    portal_url: str, settings: Settings, database: Database
) -> None:
    tenant_id = await make_tenant(database, "acme")
    await make_admin(database, "boss", "admin", tenant_id)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 800})
            page = await context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            await page.goto(f"{portal_url}/admin/users")
            assert "/admin/login" in page.url  # not signed in yet
            await page.fill("#username", "boss")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{portal_url}/admin/users")

            # No worker runs yet: the new user must show as pending first.
            await _create_user(page, "clerk")
            await page.wait_for_url("**/admin/users?job=*")
            pending = page.locator('tr[data-username="clerk"][data-job-id]')
            assert await pending.get_attribute("data-state") == "queued"
            await page.wait_for_selector("#live.on")  # the WebSocket is connected
            await page.evaluate("window.__notReloaded = true")

            async with management_worker(settings):
                await page.wait_for_selector(
                    'tr[data-job-id][data-username="clerk"][data-state="done"]'
                )
                assert await pending.locator(".state").inner_text() == "active"
                assert await page.evaluate("window.__notReloaded === true")

            # A creation that fails in the job shows its reason, live too.
            await _create_user(page, "late-clerk")
            await page.wait_for_url("**/admin/users?job=*")
            late = page.locator('tr[data-username="late-clerk"][data-job-id]')
            assert await late.get_attribute("data-state") == "queued"
            await page.wait_for_selector("#live.on")
            await page.evaluate("window.__notReloaded = true")
            # The name is taken after validation, before the job runs.
            await make_admin(database, "late-clerk", "staff", tenant_id)
            async with management_worker(settings):
                await page.wait_for_selector('tr[data-username="late-clerk"][data-state="failed"]')
            reason = await late.locator(".state").inner_text()
            assert reason.startswith("failed:") and "taken" in reason
            assert await page.evaluate("window.__notReloaded === true")
            assert "failed" in await page.locator("#toasts").inner_text()
            assert errors == []
            await context.close()
        finally:
            await browser.close()
