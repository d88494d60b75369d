"""The dashboard's server side without a browser: the live WebSocket, ``/web/api`` and pages."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call

from ems.web import socket as live_socket
from tests.api.helpers import charger, iso
from tests.conftest import ADMIN_TOKEN
from tests.web.conftest import Site, site

ENERGY = "Energy.Active.Import.Register"


async def _connect(s: Site, token: str) -> Any:
    url = s.base_url.replace("http://", "ws://") + "/web/live"
    ws = await websockets.connect(url, open_timeout=5)
    await ws.send(json.dumps({"token": token}))
    return ws


async def _receive(ws: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    return message


async def test_live_feed_refuses_an_unknown_token(tmp_path: Path) -> None:
    async with site(tmp_path, stations=False) as s:
        ws = await _connect(s, "not-a-token")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_live_feed_sends_state_then_a_car_and_the_site_load(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        ws = await _connect(s, ADMIN_TOKEN)
        try:
            assert await _receive(ws) == {"type": "hello", "name": "bootstrap", "role": "admin"}
            state = await _receive(ws)
            assert state["type"] == "state"
            assert [e["key"] for e in state["evses"]] == ["WEB-1/1", "WEB-2/1", "WEB-3/1"]
            assert all(e["connected"] and e["site_id"] == "web" for e in state["evses"])
            assert all(e["transaction_pk"] is None for e in state["evses"])
            (web,) = state["sites"]
            assert web["phase_limit_a"] == [32.0, 32.0, 32.0]
            assert web["capacity_kw"] == pytest.approx(3 * 32 * 230 / 1000, rel=1e-3)

            s.plug("WEB-1")
            charging: dict[str, Any] | None = None
            for _ in range(100):
                update = await _receive(ws)
                assert update["type"] == "update"
                mine = [e for e in update["evses"] if e["key"] == "WEB-1/1"]
                assert all(e["key"] == "WEB-1/1" for e in update["evses"])  # only what changed
                if mine and (mine[0]["power_w"] or 0) > 0:
                    charging, (web,) = mine[0], update["sites"]
                    break
            assert charging is not None, "no update with the car's power"
            assert charging["transaction_pk"] is not None
            assert charging["id_token"] == "TAG-WEB-1"
            assert max(c or 0 for c in charging["current_a"]) > 0
            # the site's load is what its one car draws, in total and per site phase
            assert web["ev_kw"] == pytest.approx(charging["power_w"] / 1000, abs=1e-3)
            assert web["load_kw"] == web["ev_kw"]
            assert web["phase_current_a"] == pytest.approx(
                [c or 0 for c in charging["current_a"]], abs=0.01
            )
        finally:
            await ws.close()


async def test_live_feed_closes_when_the_token_is_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_socket, "REVERIFY_S", 0.0)
    async with site(tmp_path, stations=False) as s, s.api() as admin:
        made = await admin.post("/api/v1/api-tokens", json={"name": "t", "role": "readonly"})
        created = made.json()
        ws = await _connect(s, created["token"])
        assert (await _receive(ws))["role"] == "readonly"
        assert (await _receive(ws))["type"] == "state"
        revoked = await admin.delete(f"/api/v1/api-tokens/{created['id']}")
        assert revoked.status_code == 204
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for _ in range(20):
                await _receive(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_me_tells_the_role_and_refuses_without_a_token(tmp_path: Path) -> None:
    async with site(tmp_path, stations=False) as s, s.api() as admin, s.api(None) as nobody:
        me = (await admin.get("/web/api/me")).json()
        assert me["name"] == "bootstrap" and me["role"] == "admin"
        assert set(me["features"]) == {"stats", "metrics", "id_tokens", "accounts", "tariffs"}
        assert (await nobody.get("/web/api/me")).status_code == 401


async def test_session_cost_under_the_site_tariff(tmp_path: Path) -> None:
    # 2 kWh at 0.25 EUR/kWh = 0.50, session fee 0.50: subtotal 1.00, 21 % tax 0.21, total 1.21
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    async with site(tmp_path, stations=False) as s, s.api() as admin:
        async with charger(s.server, "WEB-1") as cp:
            await cp.boot()
            started = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG", meter_start=0, timestamp=iso(t0)
                )
            )
            tx_id = started.transaction_id
            reading = {
                "timestamp": iso(t0 + timedelta(minutes=10)),
                "sampledValue": [{"value": "1000", "measurand": ENERGY}],
            }
            await cp.call(
                call.MeterValues(connector_id=1, transaction_id=tx_id, meter_value=[reading])
            )
            await cp.call(
                call.StopTransaction(
                    meter_stop=2000, transaction_id=tx_id, timestamp=iso(t0 + timedelta(minutes=20))
                )
            )
        (tx,) = (await admin.get("/api/v1/transactions")).json()
        cost = (await admin.get(f"/web/api/transactions/{tx['id']}/cost")).json()
        assert cost["final"] is True and cost["currency"] == "EUR"
        assert cost["energy_kwh"] == 2.0
        assert (cost["energy_cost"], cost["session_fee"]) == ("0.50", "0.50")
        assert (cost["subtotal"], cost["tax"], cost["total"]) == ("1.00", "0.21", "1.21")
        missing = await admin.get("/web/api/transactions/nope/cost")
        assert missing.status_code == 404 and "nope" in missing.json()["detail"]


async def test_pages_hold_no_data_and_plotly_is_served_compressed(tmp_path: Path) -> None:
    async with site(tmp_path, stations=False) as s, s.api(None) as anyone:
        home = await anyone.get("/")
        assert home.status_code == 200 and "text/html" in home.headers["content-type"]
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert "/static/vendor/plotly.min.js" in home.text
        # markup in a page's parameter reaches its JSON escaped, never as markup
        hostile = await anyone.get("/chargers/%3Cscript%3Ealert(1)%26")
        assert hostile.status_code == 200
        assert "<script>alert" not in hostile.text
        assert "\\u003cscript\\u003ealert(1)\\u0026" in hostile.text
        plotly = await anyone.get("/static/vendor/plotly.min.js",
                                  headers={"Accept-Encoding": "gzip"})  # fmt: skip
        assert plotly.headers["content-encoding"] == "gzip"
        assert "immutable" in plotly.headers["cache-control"]
        assert plotly.content.startswith(b"/**\n* plotly.js v")  # httpx decompressed it
        assert len(gzip.compress(plotly.content)) < len(plotly.content) / 2
        css = await anyone.get("/static/app.css")
        assert css.status_code == 200 and ".meter-limit" in css.text
