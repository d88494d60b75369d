"""The dashboard in a real browser (headless Chromium) against ems and simulated chargers.

Each test signs in through the login page, as an operator would, and fails on any error the
browser console shows. Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from ems.events import Event, MeterValuesReceived
from tests.conftest import ADMIN_TOKEN
from tests.web.conftest import Console, screenshot, sign_in, site, wait_until

POWER = "Power.Active.Import"
SOME_KW = re.compile(r"^(?!0\.00)\d+\.\d\d kW$")
NOTHING = "\u2013"  # what the page shows for a missing value (an en dash)
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


async def test_overview_shows_every_charger_live_and_a_command_reaches_the_charger(
    tmp_path: Path, browser: Any
) -> None:
    async with site(tmp_path) as s:
        assert s.fleet is not None
        s.plug("WEB-1")
        console = Console()
        context = await browser.new_context(viewport=DESK)
        page = await context.new_page()
        console.watch(page)
        await sign_in(page, s.base_url, ADMIN_TOKEN)

        # every charger of the site, with its status; the charging one with its power
        await expect(page.locator("#chargers tbody tr")).to_have_count(3)
        for n in (1, 2, 3):
            row = page.locator(f'#chargers tr[data-key="WEB-{n}/1"]')
            await expect(row).to_contain_text(f"WEB-{n}")
        await expect(page.locator("#live-state")).to_have_text("live")
        await expect(page.locator('tr[data-key="WEB-1/1"] td.power')).to_have_text(SOME_KW)
        await expect(page.locator('tr[data-key="WEB-2/1"] td.power')).to_have_text(NOTHING)

        # a car arrives at WEB-2: its first meter value with power is on the page within 2 s
        arrived = asyncio.Event()

        def on_event(event: Event) -> None:
            if (
                isinstance(event, MeterValuesReceived)
                and event.charge_point_id == "WEB-2"
                and any(x.measurand == POWER and x.value > 100 for x in event.samples)
            ):
                arrived.set()

        unsubscribe = s.ems.csms.subscribe(on_event)
        try:
            s.plug("WEB-2")
            await asyncio.wait_for(arrived.wait(), 10)
            await expect(page.locator('tr[data-key="WEB-2/1"] td.power')).to_have_text(
                SOME_KW, timeout=2000
            )
        finally:
            unsubscribe()

        # the site's load is charted live against its capacity, and the plan with its prices
        await page.wait_for_function(
            "document.getElementById('load-web').data[0].x.length >= 3", timeout=5000
        )
        await expect(page.locator("#plan-web .main-svg").first).to_be_visible()
        await expect(page.locator(".site .figures")).to_contain_text("Capacity")
        await screenshot(page, "overview-desk")

        # the session: meter curve, limits sent and their answers, cost
        await page.goto(f"{s.base_url}/sessions")
        await expect(page.locator("#sessions-table tbody tr")).to_have_count(2)
        first = page.locator("#sessions-table tbody tr", has_text="TAG-WEB-1")
        await first.locator("a").first.click()
        await expect(page.locator("#session-title")).to_contain_text("WEB-1")
        await expect(page.locator("#meter-chart .main-svg").first).to_be_visible()
        await expect(page.locator("#limits-table tbody")).to_contain_text("Accepted")
        await expect(page.locator("#cost-total")).to_contain_text("EUR")
        await screenshot(page, "session-desk")

        # commands from the charger page reach the simulated charger
        await page.goto(f"{s.base_url}/chargers/WEB-3")
        await expect(page.locator("#evses tbody tr")).to_have_count(1)
        availability = page.locator("#cmd-availability")
        await availability.locator("select").select_option("0")
        await availability.get_by_role("button", name="Inoperative").click()
        await expect(page.locator("#command-result")).to_contain_text("Accepted")
        station = s.fleet.chargepoints["WEB-3"]
        await wait_until(lambda: not station.station.evses[1].operative, 30, "WEB-3 inoperative")
        await expect(page.locator("#status-history tbody")).to_contain_text("Unavailable")
        await expect(page.locator("#message-log tbody")).to_contain_text("ChangeAvailability")

        page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.get_by_role("button", name="Soft reset").click()
        await expect(page.locator("#command-result")).to_contain_text("Soft reset: Accepted")
        await wait_until(lambda: station.boot_reason == "RemoteReset", 30, "WEB-3 resets")
        await screenshot(page, "charger-desk")

        await page.set_viewport_size(PHONE)
        await page.goto(f"{s.base_url}/")
        await expect(page.locator("#chargers tbody tr")).to_have_count(3)
        await page.wait_for_function(
            "document.getElementById('load-web').data[0].x.length >= 1", timeout=5000
        )
        await screenshot(page, "overview-phone")
        await context.close()
        assert console.errors == []


async def test_readonly_operator_sees_everything_but_no_command(
    tmp_path: Path, browser: Any
) -> None:
    async with site(tmp_path, stations=False) as s, s.api() as admin:
        created = await admin.post(
            "/api/v1/charge-points", json={"id": "WEB-1", "security_profile": 0}
        )
        assert created.status_code == 201, created.text
        made = await admin.post(
            "/api/v1/api-tokens", json={"name": "night shift", "role": "readonly"}
        )
        reader_token = made.json()["token"]
        console = Console()
        context = await browser.new_context(viewport=PHONE)
        page = await context.new_page()
        console.watch(page)

        # not signed in: the sign-in page; an unknown token is refused there
        await page.goto(f"{s.base_url}/chargers/WEB-1")
        await expect(page).to_have_url(re.compile(r"/login\?next=%2Fchargers%2FWEB-1$"))
        await page.fill("#token", "not-a-token")
        await page.click("#login-form button[type=submit]")
        await expect(page.locator("#login-error")).to_contain_text("unknown or revoked")
        # the browser logs the API's 401 for the refused token: expected, and the only error
        assert len(console.errors) == 1 and "401" in console.errors[0], console.errors
        console.errors.clear()

        await page.fill("#token", reader_token)
        await page.click("#login-form button[type=submit]")
        await expect(page).to_have_url(f"{s.base_url}/chargers/WEB-1")
        await expect(page.locator("#who")).to_have_text("night shift (readonly)")
        await expect(page.locator("#charger-facts")).to_contain_text("offline")
        await expect(page.locator("#commands")).to_have_count(0)
        for name in ("Start", "Stop", "Soft reset", "Hard reset", "Unlock", "Inoperative"):
            await expect(page.get_by_role("button", name=name)).to_have_count(0)
        await screenshot(page, "charger-readonly-phone")

        await page.goto(f"{s.base_url}/")
        await expect(page.locator("#chargers tbody tr")).to_have_count(1)
        await expect(page.locator("#chargers tbody")).to_contain_text("offline")
        await page.goto(f"{s.base_url}/manage")
        await expect(page.locator("#api-tokens")).to_contain_text("Only an admin token")
        await page.goto(f"{s.base_url}/statistics")
        await expect(page.locator("#stats-source")).to_contain_text("sessions")
        await screenshot(page, "statistics-readonly-phone")
        await context.close()
        assert console.errors == []
