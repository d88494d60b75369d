"""Transactions made by real OCPP 1.6 chargers, listed, filtered and shown through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from ocpp.v16 import call

from ems.app import EmsServer
from tests.api.helpers import charger, iso, register

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"


def meter_value(at: datetime, energy_wh: float, power_w: float) -> dict[str, Any]:
    return {
        "timestamp": iso(at),
        "sampledValue": [
            {"value": str(energy_wh), "measurand": ENERGY, "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }


@pytest.fixture
async def sessions(server: EmsServer, admin: httpx.AsyncClient) -> AsyncIterator[dict[str, int]]:
    """A finished session on CP1 (T0, TAG-A, 1000 -> 8500 Wh) and a running one on CP2
    (T0 + 2 h, TAG-B); the chargers stay connected. Yields the wire ids."""
    await register(admin, "CP1")
    await register(admin, "CP2")
    async with (
        charger(server, "CP1") as cp1,
        charger(server, "CP2") as cp2,
    ):
        await cp1.boot()
        await cp2.boot()
        first = await cp1.call(
            call.StartTransaction(
                connector_id=1, id_tag="TAG-A", meter_start=1000, timestamp=iso(T0)
            )
        )
        for minute, energy in ((5, 4000), (10, 7000)):
            await cp1.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=first.transaction_id,
                    meter_value=[meter_value(T0 + timedelta(minutes=minute), energy, 36_000)],
                )
            )
        await cp1.call(
            call.StopTransaction(
                meter_stop=8500,
                timestamp=iso(T0 + timedelta(minutes=15)),
                transaction_id=first.transaction_id,
                reason="EVDisconnected",
            )
        )
        second = await cp2.call(
            call.StartTransaction(
                connector_id=2,
                id_tag="TAG-B",
                meter_start=500,
                timestamp=iso(T0 + timedelta(hours=2)),
            )
        )
        yield {"CP1": first.transaction_id, "CP2": second.transaction_id}


async def test_list_newest_first(admin: httpx.AsyncClient, sessions: dict[str, int]) -> None:
    listing = (await admin.get("/transactions")).json()
    assert [(t["charge_point_id"], t["transaction_id"]) for t in listing] == [
        ("CP2", str(sessions["CP2"])),
        ("CP1", str(sessions["CP1"])),
    ]
    running, finished = listing
    assert running["active"] is True and running["stopped_at"] is None
    assert running["evse_id"] == 2 and running["id_token"] == "TAG-B"
    assert finished["active"] is False and finished["stop_reason"] == "EVDisconnected"
    assert finished["energy_kwh"] == pytest.approx(7.5)
    assert finished["duration_s"] == pytest.approx(900)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"charge_point_id": "CP1"}, ["CP1"]),
        ({"charge_point_id": "CP3"}, []),
        ({"active": "true"}, ["CP2"]),
        ({"active": "false"}, ["CP1"]),
        ({"id_token": "TAG-B"}, ["CP2"]),
        ({"since": iso(T0 + timedelta(hours=1))}, ["CP2"]),
        ({"until": iso(T0 + timedelta(hours=1))}, ["CP1"]),
        ({"since": iso(T0), "until": iso(T0 + timedelta(minutes=1))}, ["CP1"]),
        ({"since": "2026-05-04T09:00:00"}, ["CP2"]),  # no zone: UTC
        ({"limit": 1}, ["CP2"]),
        ({"limit": 1, "offset": 1}, ["CP1"]),
        ({"offset": 2}, []),
    ],
)
async def test_list_filters(
    admin: httpx.AsyncClient, sessions: dict[str, int], params: dict[str, Any], expected: list[str]
) -> None:
    response = await admin.get("/transactions", params=params)
    assert response.status_code == 200, response.text
    assert [t["charge_point_id"] for t in response.json()] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"active": "perhaps"}, "query.active"),
        ({"since": "yesterday"}, "query.since"),
    ],
)
async def test_bad_filter_is_422_naming_it(
    admin: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await admin.get("/transactions", params=params)
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_until_before_since_is_422(admin: httpx.AsyncClient) -> None:
    response = await admin.get(
        "/transactions", params={"since": iso(T0), "until": iso(T0 - timedelta(hours=1))}
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "until must be later than since"}


async def test_detail_has_energy_and_samples(
    admin: httpx.AsyncClient, sessions: dict[str, int]
) -> None:
    [finished] = (await admin.get("/transactions", params={"charge_point_id": "CP1"})).json()
    detail = (await admin.get(f"/transactions/{finished['id']}")).json()
    assert detail["energy_kwh"] == pytest.approx(7.5)
    assert detail["meter_start_wh"] == 1000 and detail["meter_stop_wh"] == 8500
    assert detail["started_at"] == "2026-05-04T08:00:00Z"
    assert detail["stopped_at"] == "2026-05-04T08:15:00Z"
    assert detail["id_token"] == "TAG-A" and detail["duration_s"] == pytest.approx(900)
    assert len(detail["samples"]) == 4
    first = detail["samples"][0]
    assert set(first) == {"timestamp", "measurand", "value", "unit", "phase", "context", "location"}
    assert first["timestamp"] == "2026-05-04T08:05:00Z"


async def test_detail_samples_filtered_by_measurand(
    admin: httpx.AsyncClient, sessions: dict[str, int]
) -> None:
    [finished] = (await admin.get("/transactions", params={"charge_point_id": "CP1"})).json()
    detail = (
        await admin.get(f"/transactions/{finished['id']}", params={"measurand": ENERGY})
    ).json()
    assert [(s["value"], s["unit"]) for s in detail["samples"]] == [(4000, "Wh"), (7000, "Wh")]


async def test_running_transaction_is_shown_while_active(
    admin: httpx.AsyncClient, sessions: dict[str, int]
) -> None:
    [running] = (await admin.get("/transactions", params={"active": "true"})).json()
    detail = (await admin.get(f"/transactions/{running['id']}")).json()
    assert detail["active"] is True and detail["meter_start_wh"] == 500
    assert detail["samples"] == [] and detail["duration_s"] > 0
    cp = (await admin.get("/charge-points/CP2")).json()
    assert [t["id"] for t in cp["open_transactions"]] == [running["id"]]


async def test_unknown_transaction_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/transactions/123")
    assert response.status_code == 404
    assert "no transaction with id '123'" in response.json()["detail"]
