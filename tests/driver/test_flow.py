"""The QR flow end to end over real sockets: start with a wallet, charge, stop, capture, receipt;
a refused start voids the hold; another link cannot stop the session; starts are rate limited."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ems.payments import HoldStatus, Money
from ems.web.api import energy_register
from tests.driver.conftest import (
    CARD,
    FUNDS,
    WALLET,
    client,
    code_of,
    driver_site,
    form_token,
    plug,
    wait_until,
)


async def _start(site, code: str, **fields: str):  # type: ignore[no-untyped-def]
    async with client(site) as driver:
        page = await driver.get(f"/c/{code}")
        assert page.status_code == 200, page.text
        form = {"departure": "23:59", "energy_kwh": "10", "method": "account", "account": CARD}
        form.update(fields)
        # a page without the form (connector offline) still gets a valid token for the test
        form["csrf"] = site.server.app.state.driver_guard.token(f"start:{code}")
        return await driver.post(f"/c/{code}/start", data=form)


async def _charging(site, station: str):  # type: ignore[no-untyped-def]
    """A car plugged in at ``station`` and started from its QR page: its link and session,
    once charging."""
    code = await code_of(site, station)
    plug(site, station)
    response = await _start(site, code)
    link = response.headers["location"]
    session = await site.server.app.state.driver.session(link[3:])
    await wait_until(lambda: _state(site, session.id) == "charging", 20, "charging")
    return link, session


async def test_wallet_start_charges_then_captures_the_computed_cost(tmp_path: Path) -> None:
    async with driver_site(tmp_path) as site:
        ems = site.ems
        code = await code_of(site, "WEB-1")
        plug(site, "WEB-1")
        response = await _start(site, code)
        assert response.status_code == 303, response.text
        link = response.headers["location"]
        assert link.startswith("/s/") and len(link) > 40
        driver = ems.app_driver if hasattr(ems, "app_driver") else site.server.app.state.driver
        session = await driver.session(link[3:])
        hold = ems.ledger.get_hold(session.hold_id)
        assert hold.status is HoldStatus.ACTIVE and hold.account_id == WALLET
        await wait_until(lambda: _state(site, session.id) == "charging", 20, "charging")
        async with client(site) as anonymous:
            await wait_until_async(
                anonymous, f"{link}/status", lambda d: d["energy_kwh"] > 0.05, "energy rising"
            )
            page = await anonymous.get(link)
            stop = await anonymous.post(f"{link}/stop", data={"csrf": form_token(page.text)})
            assert stop.status_code == 303
        await wait_until(lambda: _state(site, session.id) == "completed", 20, "completed")
        finished = await driver.session(link[3:])
        tx = ems.store.get_transaction(finished.transaction_pk)
        assert tx is not None and tx.stopped_at is not None
        from ems.control.measurements import ENERGY

        tariff = ems.control.sites["web"].tariff
        expected = tariff.session_cost(
            energy_register(tx, ems.store.samples_of(tx.id, ENERGY)), tx.started_at, tx.stopped_at
        )
        assert expected.total > Decimal("0.50")  # session fee plus some energy
        receipt = driver.repository.receipt_of(session.id)
        assert receipt is not None and receipt.total == expected.total == receipt.paid
        wallet = ems.ledger.get_account(WALLET)
        assert wallet.balance == FUNDS - Money.of(expected.total, "EUR")
        assert wallet.held == Money.zero("EUR")
        async with client(site) as anonymous:
            page = await anonymous.get(link)
            assert f"{expected.total} EUR" in page.text and "Receipt" in page.text
            pdf = await anonymous.get(f"{link}/receipt.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_a_meter_going_backwards_holds_the_session_for_review_until_an_operator_settles(
    tmp_path: Path,
) -> None:
    async with driver_site(tmp_path) as site:
        ems = site.ems
        link, session = await _charging(site, "WEB-1")
        driver = site.server.app.state.driver
        assert site.fleet is not None
        evse = site.fleet.chargepoints["WEB-1"].station.evses[1]
        await wait_until(lambda: evse.register_wh > 100, 20, "some energy")
        evse.register_wh -= 90  # the meter jumps back (a swap, a fault)
        tx = next(iter(ems.csms.open_transactions("WEB-1")))
        await wait_until(lambda: tx.anomaly is not None, 20, "register flagged")
        async with client(site) as anonymous:
            page = await anonymous.get(link)
            stop = await anonymous.post(f"{link}/stop", data={"csrf": form_token(page.text)})
            assert stop.status_code == 303
        await wait_until(lambda: _state(site, session.id) == "review", 20, "held for review")
        held = await driver.session(link[3:])
        assert held.error == tx.anomaly
        assert ems.ledger.get_hold(session.hold_id).status is HoldStatus.ACTIVE  # nothing taken
        assert driver.repository.receipt_of(session.id) is None
        async with site.api() as api:
            listed = (await api.get("/api/v1/driver-sessions", params={"state": "review"})).json()
            assert [s["id"] for s in listed] == [session.id]
            settled = await api.post(
                f"/api/v1/driver-sessions/{session.id}/settle", json={"amount": "1.25"}
            )
            assert settled.status_code == 200, settled.text
            assert settled.json()["state"] == "completed"
            again = await api.post(f"/api/v1/driver-sessions/{session.id}/settle", json={})
            assert again.status_code == 409
        receipt = driver.repository.receipt_of(session.id)
        assert receipt is not None and receipt.paid == Decimal("1.25")
        assert ems.ledger.get_account(WALLET).balance == FUNDS - Money.of("1.25", "EUR")
        assert ems.ledger.get_account(WALLET).held == Money.zero("EUR")


async def test_refused_start_voids_the_hold_and_blocks_the_token(tmp_path: Path) -> None:
    async with driver_site(tmp_path) as site:
        ems = site.ems
        code = await code_of(site, "WEB-3")
        assert site.fleet is not None
        station = site.fleet.chargepoints["WEB-3"]
        station.remote_start = lambda *args, **kwargs: False  # type: ignore[method-assign]
        response = await _start(site, code)
        assert response.status_code == 303, response.text
        driver = site.server.app.state.driver
        session = await driver.session(response.headers["location"][3:])
        await wait_until(lambda: _state(site, session.id) == "failed", 20, "start failed")
        failed = await driver.session(response.headers["location"][3:])
        assert "refused" in (failed.error or "")
        assert ems.ledger.get_hold(session.hold_id).status is HoldStatus.VOIDED
        assert ems.ledger.get_account(WALLET).held == Money.zero("EUR")
        token = await ems.csms.identity.get(session.id_token)
        assert token is not None and token.status == "Blocked"


async def test_another_sessions_secret_cannot_see_or_stop_it(tmp_path: Path) -> None:
    async with driver_site(tmp_path) as site:
        link, session = await _charging(site, "WEB-1")
        forged = "/s/" + link[3:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
        async with client(site) as other:
            assert (await other.get(forged)).status_code == 404
            assert (await other.get(f"{forged}/status")).status_code == 404
            page = await other.get(link)
            token = form_token(page.text)
            refused = await other.post(f"{forged}/stop", data={"csrf": token})
            assert refused.status_code == 404
            cross = await other.post(
                f"{link}/stop", data={"csrf": token}, headers={"Origin": "https://evil.example"}
            )
            assert cross.status_code == 403
        assert _state(site, session.id) == "charging"


async def test_start_attempts_are_rate_limited_with_retry_after(tmp_path: Path) -> None:
    async with driver_site(tmp_path, stations=False) as site:
        code = await code_of(site, "WEB-2")
        answers = [(await _start(site, code)) for _ in range(4)]
        # offline charger: each attempt is refused (409) until the bucket is empty (429)
        assert [a.status_code for a in answers] == [409, 409, 409, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1


def _state(site, session_id: str) -> str:  # type: ignore[no-untyped-def]
    found = site.server.app.state.driver.repository.session(session_id)
    return found.state if found is not None else "missing"


async def wait_until_async(client, url: str, condition, what: str) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    for _ in range(400):
        response = await client.get(url)
        if response.status_code == 200 and condition(response.json()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not in time: {what}")
