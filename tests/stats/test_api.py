"""``/api/v1/stats`` on a real server over a seeded SQLite database: JSON, CSV and Parquet."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ems.app import Ems, EmsServer
from ems.store import Recorder, Store
from tests.api.helpers import api_client
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.stats.seed import NOW, seed, write_site

RANGE = {"from": "2026-10-05", "to": "2026-10-07", "period": "day"}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmsServer]:
    """ems with the office site (control off) over the seeded database; its clock is NOW."""
    url = f"sqlite:///{tmp_path / 'ems.db'}"
    store = Store(url)
    store.migrate()
    recorder = Recorder(store)
    recorder.start()
    seed(recorder)
    recorder.stop()
    store.dispose()
    settings = make_settings(url, control={"sites": [str(write_site(tmp_path))], "enabled": False})
    started = EmsServer(Ems(settings, clock=lambda: NOW))
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def admin(server: EmsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(server, ADMIN_TOKEN) as client:
        yield client


async def test_site_statistics_per_day_as_json(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/stats/sites/office", params=RANGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == {
        "id": "office",
        "name": "Office car park",
        "timezone": "Europe/Amsterdam",
        "currency": "EUR",
        "from": "2026-10-04T22:00:00Z",
        "to": "2026-10-06T22:00:00Z",
        "period": "day",
    }
    day1, day2 = body["periods"]
    assert (day1["period"], day1["start"], day1["end"]) == (
        "2026-10-05",
        "2026-10-04T22:00:00Z",
        "2026-10-05T22:00:00Z",
    )
    assert day1["sessions"] == 3 and day1["chargers"] == 3
    assert day1["energy_kwh"] == pytest.approx(5.010)
    assert day1["peak_power_kw"] == pytest.approx(10.0)
    assert day1["peak_measured_kw"] == pytest.approx(9.0)
    assert (day1["energy_cost"], day1["revenue"]) == (1.50, 3.40)
    assert day1["unmet_kwh"] == pytest.approx(1.0)
    assert day2["mean_session_duration_h"] is None  # only a running session started
    assert day2["occupancy_pct"] == pytest.approx(60 / (3 * 630) * 100)
    assert body["total"]["period"] == "total" and body["total"]["sessions"] == 4


async def test_charger_statistics_per_day_and_over_the_range(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/stats/sites/office/chargers", params=RANGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["periods"]) == 3 * 2
    totals = {row["charger"]: row for row in body["totals"]}
    assert sorted(totals) == ["CP-A/1", "CP-A/2", "CP-B/1"]
    assert totals["CP-A/2"]["energy_kwh"] == pytest.approx(4.0)
    assert totals["CP-B/1"]["revenue"] == pytest.approx(1.90)
    assert (totals["CP-A/1"]["charge_point_id"], totals["CP-A/1"]["evse_id"]) == ("CP-A", 1)


async def test_csv_export_reads_back_with_pandas(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/stats/sites/office", params={**RANGE, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="site-office-2026-10-05-2026-10-06-day.csv"'
    )
    table = pd.read_csv(io.StringIO(response.text))
    assert list(table["period"]) == ["2026-10-05", "2026-10-06", "total"]
    assert list(table["sessions"]) == [3, 1, 4]
    assert table["energy_kwh"].tolist() == pytest.approx([5.010, 4.0, 9.010])
    assert table["start"].iloc[0] == "2026-10-04T22:00:00+00:00"
    assert pd.isna(table["mean_session_duration_h"].iloc[1])


async def test_parquet_export_reads_back_with_pandas_and_keeps_utc_times(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get(
        "/stats/sites/office/chargers", params={**RANGE, "format": "parquet"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pd.read_parquet(io.BytesIO(response.content))
    assert len(table) == 3 * 2 + 3  # per charger and day, then per charger over the range
    assert str(table["start"].dtype) == "datetime64[us, UTC]"
    night = table[(table["charger"] == "CP-A/2") & (table["period"] == "2026-10-06")]
    assert night["energy_cost"].iloc[0] == pytest.approx(0.40)
    metadata = pq.read_schema(io.BytesIO(response.content)).metadata
    assert metadata[b"ems.currency"] == b"EUR"
    assert metadata[b"ems.timezone"] == b"Europe/Amsterdam"


async def test_a_charge_point_outside_any_site_in_a_zone_of_choice(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get(
        "/stats/charge-points/CP-X",
        params={"from": "2026-10-05", "to": "2026-10-06", "tz": "UTC", "period": "week"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"]["currency"] is None
    (row,) = body["periods"]
    assert (row["period"], row["sessions"], row["revenue"]) == ("2026-W41", 1, None)
    assert row["energy_kwh"] == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("path", "params", "status", "detail"),
    [
        ("/stats/sites/nowhere", {}, 404, "no site 'nowhere'; sites: office"),
        (
            "/stats/sites/office",
            {"from": "2026-10-05T10:07:00Z"},
            422,
            "from: 2026-10-05T10:07:00+00:00 is not on a quarter hour (:00, :15, :30 or :45)",
        ),
        (
            "/stats/sites/office",
            {"from": "2026-10-07", "to": "2026-10-05"},
            422,
            "to (2026-10-04T22:00:00+00:00) must be after from (2026-10-06T22:00:00+00:00)",
        ),
        ("/stats/charge-points/CP-X", {"tz": "Mars/Olympus"}, 422, "tz: unknown time zone"),
    ],
)
async def test_bad_requests_say_what_is_wrong(
    admin: httpx.AsyncClient, path: str, params: dict[str, str], status: int, detail: str
) -> None:
    response = await admin.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail)


async def test_period_and_format_are_validated_by_name(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/stats/sites/office", params={"period": "year"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid request: query.period:")
    response = await admin.get("/stats/sites/office", params={"format": "xlsx"})
    assert response.json()["detail"].startswith("invalid request: query.format:")


async def test_statistics_need_a_token_and_are_described_in_openapi(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    async with api_client(server, None) as anonymous:
        assert (await anonymous.get("/stats/sites")).status_code == 401
    sites = (await admin.get("/stats/sites")).json()
    assert sites == [
        {
            "id": "office",
            "name": "Office car park",
            "timezone": "Europe/Amsterdam",
            "currency": "EUR",
            "chargers": ["CP-A/1", "CP-A/2", "CP-B/1"],
        }
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/stats/sites/{site_id}"]["get"]
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/vnd.apache.parquet"} <= set(content)
    period = schema["components"]["schemas"]["SitePeriodStatsOut"]["properties"]
    assert period["peak_power_kw"]["description"] == "Highest 15-minute mean power [kW]"
