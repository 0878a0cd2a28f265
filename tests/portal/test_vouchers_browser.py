"""Headless Chromium through the vouchers pages: queue a batch with the form, watch it fill in
live when the worker makes it, open the printable sheet."""

from __future__ import annotations

from playwright.async_api import async_playwright

from hotspotd.db import Database
from hotspotd.settings import Settings
from hotspotd.store import plans
from tests.portal.conftest import PASSWORD, make_admin, make_tenant
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.worker import running_worker


async def test_browser_voucher_batch_fills_in_live_and_prints(
    portal_url: str, settings: Settings, database: Database
) -> None:
    tenant_id = await make_tenant(database, "cafe")
    await make_admin(database, "owner", "admin", tenant_id)
    async with database.transaction() as conn:
        await plans.create_plan(
            conn, tenant_id, name="Hour", price_cents=2000, currency="KES", validity_s=3600
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            await page.goto(f"{portal_url}/admin/vouchers")
            await page.fill("#username", "owner")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{portal_url}/admin/vouchers")

            await page.fill("#voucher-form #count", "1500")
            await page.fill("#voucher-form #prefix", "cafe-")
            await page.click("#voucher-form button[type=submit]")
            await page.wait_for_url("**/admin/vouchers/*")
            batch = page.locator("#batch")
            assert await batch.get_attribute("data-state") == "queued"
            await page.wait_for_selector("#live.on")  # the WebSocket is connected

            async with running_worker(settings, "general"):
                await page.wait_for_selector('#batch[data-state="done"]')
            assert await page.locator("tr[data-code]").count() == 1500
            assert await page.locator('tr[data-status="unused"]').count() == 1500
            first = await page.locator("tr[data-code]").first.get_attribute("data-code")
            assert first is not None and first.startswith("CAFE-")

            await page.click("text=Printable sheet")
            await page.wait_for_url("**/print")
            # Sheets of 240 cards, each with its QR code; the last sheet holds the rest.
            assert await page.locator(".sheet .card").count() == 240
            assert await page.locator(".sheet .card .qr svg").count() == 240
            assert "20.00 KES" in await page.locator(".sheet .card").first.inner_text()
            await page.click("text=next sheet")
            await page.wait_for_url("**/print?page=2")
            assert await page.locator(".sheet .card").count() == 240
            await page.goto(page.url.replace("page=2", "page=7"))
            assert await page.locator(".sheet .card").count() == 1500 - 6 * 240
            assert errors == []
        finally:
            await browser.close()
