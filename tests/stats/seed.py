"""A small, hand-checked dataset: one site, four sessions, statuses, needs and control cycles.

Site "office" (Europe/Amsterdam, UTC+2 in October 2026): chargers CP-A/1, CP-A/2 and CP-B/1.
Tariff: 0.30 per kWh, 0.20 from 00:00 to 07:00 local, a 0.50 session fee, 21 % tax.
Days are local: day 1 = 2026-10-05 (from 2026-10-04 22:00Z), day 2 = 2026-10-06 (from
2026-10-05 22:00Z). ``NOW`` is 2026-10-06 08:30Z, so day 2 has 10.5 hours behind it.

S1 on CP-A/1, day 1, 10:00Z-11:00Z, register 10 000 Wh at the start, then 10:05 10 500,
   10:10 11 000, 10:20 12 000 (6 kW until 10:20: 20 min charging), 10:40 12 000,
   10:50 12 010 (60 W: not charging), 11:00 stop at 12 010: 2.010 kWh. Statuses: Preparing
   09:50Z, Charging 10:00, SuspendedEV 10:20, Finishing 11:00, Available 11:10, so plugged in
   09:50-11:10 (80 min). Quarter hours (Wh): 10:00 1500, 10:15 500, 10:30 5, 10:45 5.
S4 on CP-B/1, day 1, 10:00Z-10:15Z, meterStart 0, meterStop 1000, no samples: 4 kW; the
   quarter hour 10:00 of the site holds 1500 + 1000 Wh = 10 kW, the site's peak.
S2 on CP-A/2, 21:30Z-22:30Z (23:30-00:30 local: across midnight and into the night price),
   0 -> 4000 Wh without samples: 2 kWh on each day; the driver asked for 5 kWh (1 kWh unmet).
S3 on CP-B/1, day 2, from 08:00Z, still running: 500 Wh, 08:10 1500 Wh, 08:20 2.5 kWh
   (in kWh): 2 kWh, 20 min charging, plugged in until NOW (30 min).
Plus what must not count: a session on CP-X/1 (not in the site), a per-phase register, a power
sample, a register reading outside any transaction, and another site's control cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ems.domain import ConnectorStatus, MeterSample, StatusReport, Transaction
from ems.site import SiteConfig, load_site
from ems.store import Recorder

NOW = datetime(2026, 10, 6, 8, 30, tzinfo=UTC)
DAY1 = datetime(2026, 10, 4, 22, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY2 + timedelta(days=1)
ENERGY = "Energy.Active.Import.Register"

SITE_TOML = """
[site]
id = "office"
name = "Office car park"
timezone = "Europe/Amsterdam"

[[circuits]]
id = "grid"
limit_a = 63

[[chargers]]
charge_point_id = "CP-A"
evses = 2

[[chargers]]
charge_point_id = "CP-B"

[tariff]
id = "tou"
name = "Night and day"
currency = "EUR"
tax_rate = 0.21
session_fee = 0.50

[tariff.energy]
kind = "time_of_use"
default_name = "day"
default_price_per_kwh = 0.30

[[tariff.energy.periods]]
name = "night"
from = "00:00"
to = "07:00"
price_per_kwh = 0.20
"""


def write_site(folder: Path) -> Path:
    path = folder / "office.toml"
    path.write_text(SITE_TOML)
    return path


def site(folder: Path) -> SiteConfig:
    return load_site(write_site(folder))


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def _register(at: datetime, value: float, unit: str = "Wh") -> MeterSample:
    return MeterSample(at, ENERGY, value, unit, context="Sample.Periodic")


def _tx(
    id: str,
    charge_point_id: str,
    evse_id: int,
    started: datetime,
    start_wh: float,
    stopped: datetime | None = None,
    stop_wh: float | None = None,
) -> Transaction:
    return Transaction(
        id=id,
        charge_point_id=charge_point_id,
        transaction_id=id,
        evse_id=evse_id,
        connector_id=1,
        started_at=started,
        meter_start_wh=start_wh,
        stopped_at=stopped,
        meter_stop_wh=stop_wh,
    )


def _status(evse_id: int, status: ConnectorStatus, at: datetime) -> StatusReport:
    return StatusReport(evse_id=evse_id, connector_id=1, status=status, timestamp=at)


def seed(recorder: Recorder) -> None:
    """Write the dataset through the recorder and wait until it is committed."""
    s1 = _tx("S1", "CP-A", 1, utc(5, 10), 10_000, utc(5, 11), 12_010)
    s2 = _tx("S2", "CP-A", 2, utc(5, 21, 30), 0, utc(5, 22, 30), 4000)
    s3 = _tx("S3", "CP-B", 1, utc(6, 8), 500)
    s4 = _tx("S4", "CP-B", 1, utc(5, 10), 0, utc(5, 10, 15), 1000)
    other = _tx("X1", "CP-X", 1, utc(5, 10), 0, utc(5, 12), 20_000)
    for tx in (s1, s2, s3, s4, other):
        recorder.transaction(tx)
    recorder.samples(
        "CP-A",
        1,
        1,
        "S1",
        [
            _register(utc(5, 10, 5), 10_500),
            _register(utc(5, 10, 10), 11_000),
            MeterSample(utc(5, 10, 10), ENERGY, 99_999, "Wh", phase="L1"),
            MeterSample(utc(5, 10, 10), "Power.Active.Import", 6000, "W"),
            _register(utc(5, 10, 20), 12_000),
            _register(utc(5, 10, 40), 12_000),
            _register(utc(5, 10, 50), 12_010),
        ],
    )
    recorder.samples("CP-A", 1, 1, None, [_register(utc(5, 12), 50_000)])
    recorder.samples(
        "CP-B",
        1,
        1,
        "S3",
        [_register(utc(6, 8, 10), 1500), _register(utc(6, 8, 20), 2.5, "kWh")],
    )
    recorder.samples("CP-X", 1, 1, "X1", [_register(utc(5, 11), 10_000)])
    for report in (
        _status(1, ConnectorStatus.AVAILABLE, utc(4, 9)),
        _status(1, ConnectorStatus.PREPARING, utc(5, 9, 50)),
        _status(1, ConnectorStatus.CHARGING, utc(5, 10)),
        _status(1, ConnectorStatus.SUSPENDED_EV, utc(5, 10, 20)),
        _status(1, ConnectorStatus.FINISHING, utc(5, 11)),
        _status(1, ConnectorStatus.AVAILABLE, utc(5, 11, 10)),
    ):
        recorder.status("CP-A", report, current=True)
    recorder.status("CP-B", _status(1, ConnectorStatus.FAULTED, utc(1, 9)), current=True)
    recorder.status("CP-X", _status(1, ConnectorStatus.CHARGING, utc(5, 10)), current=True)
    recorder.charging_need(
        {
            "transaction_pk": "S2",
            "charge_point_id": "CP-A",
            "evse_id": 2,
            "source": "driver",
            "departure_at": utc(6, 7),
            "energy_kwh": 5.0,
            "updated_at": utc(5, 21, 31),
        }
    )
    for cycle_id, (site_id, at, measured_kw) in enumerate(
        [
            ("office", utc(5, 10, 1), 7.5),
            ("office", utc(5, 10, 2), 9.0),
            ("office", utc(6, 8, 5), 5.0),
            ("elsewhere", utc(5, 10, 1), 50.0),
        ],
        start=1,
    ):
        recorder.control_cycle(_cycle(cycle_id, site_id, at, measured_kw), [])
    recorder.flush_sync(30)


def _cycle(cycle_id: int, site_id: str, at: datetime, measured_kw: float) -> dict[str, object]:
    return {
        "id": cycle_id,
        "site_id": site_id,
        "started_at": at,
        "trigger": "interval",
        "duration_ms": 12.0,
        "solve_ms": 3.0,
        "status": "optimal",
        "solver": "test",
        "sessions": 1,
        "chargers": 3,
        "limits_sent": 0,
        "capacity_kw": 43.0,
        "planned_kw": measured_kw,
        "measured_kw": measured_kw,
        "unmet_kwh": 0.0,
        "energy_cost": 0.0,
        "notes": {},
    }
