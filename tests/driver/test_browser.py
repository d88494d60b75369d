"""A real browser (headless Chromium) through the QR flow: open the connector's link, enter
departure, energy and payment, start, watch the simulated charger charge, stop, read the cost
on the receipt."""

from __future__ import annotations

from pathlib import Path

from ems.control.measurements import ENERGY
from ems.web.api import energy_register
from tests.driver.conftest import CARD, code_of, driver_site, plug
from tests.web.conftest import Console, screenshot
from tests.web.conftest import browser as browser  # the fixture, shared with the dashboard tests


async def test_driver_starts_watches_stops_and_gets_the_receipt(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    async with driver_site(tmp_path) as site:
        code = await code_of(site, "WEB-2")  # the OCPP 2.0.1 station
        plug(site, "WEB-2")
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        console = Console()
        console.watch(page)
        await page.goto(f"{site.base_url}/c/{code}")
        await page.fill("#departure", "23:59")
        await page.fill("#energy_kwh", "12")
        await page.fill("#account", CARD)
        await page.click("#start")
        await page.wait_for_url(f"{site.base_url}/s/**")
        await _wait_text(page, "#state", lambda text: text == "charging")
        await _wait_text(page, "#power", lambda text: text != "-" and float(text) > 1000)
        await _wait_text(page, "#energy", lambda text: float(text) > 0.05)
        await screenshot(page, "driver-charging")
        await page.click("#stop")
        await page.wait_for_selector("#receipt", timeout=20_000)
        await screenshot(page, "driver-receipt")
        total = (await page.text_content("#receipt-total") or "").strip()
        driver = site.server.app.state.driver
        session = await driver.session(page.url.rsplit("/s/", 1)[1])
        tx = site.ems.store.get_transaction(session.transaction_pk)
        tariff = site.ems.control.sites["web"].tariff
        expected = tariff.session_cost(
            energy_register(tx, site.ems.store.samples_of(tx.id, ENERGY)),
            tx.started_at,
            tx.stopped_at,
        )
        assert total == f"{expected.total} EUR"
        href = await page.get_attribute("#receipt-pdf", "href")
        assert href is not None and href.endswith("/receipt.pdf")
        assert console.errors == []


async def _wait_text(page, selector: str, condition, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll an element's text (the page's CSP forbids the eval that wait_for_function uses)."""
    import asyncio

    text = None
    for _ in range(int(timeout_s / 0.1)):
        text = (await page.text_content(selector) or "").strip()
        if condition(text):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{selector} still shows {text!r}")
