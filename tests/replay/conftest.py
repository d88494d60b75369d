"""A tiny hand-checkable site and sessions for the replay tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ems.datasets import SessionRecord
from ems.site import SiteConfig, load_site

T0 = datetime(2024, 1, 8, tzinfo=UTC)  # a Monday, midnight UTC

TINY_SITE = """
[site]
id = "tiny"
timezone = "UTC"
voltage_v = 230

[tariff]
id = "tiny-flat"
currency = "EUR"
demand_charge_per_kw = 10.0

[tariff.energy]
kind = "flat"
price_per_kwh = 0.30

[control]
horizon_h = 4
slot_s = 900

[[circuits]]
id = "grid"
limit_a = 16

[[chargers]]
charge_point_id = "CP-{n}"
count = 2
phases = "L1"
max_current_a = 32
"""


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


@pytest.fixture
def tiny_site_path(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SITE)
    return path


@pytest.fixture
def tiny_site(tiny_site_path: Path) -> SiteConfig:
    return load_site(tiny_site_path)


@pytest.fixture
def tiny_sessions() -> list[SessionRecord]:
    """Three sessions on two single-phase 32 A chargers (7.36 kW each) behind 16 A (3.68 kW).

    S1 on CP-1 00:00-02:00 needs 7.36 kWh, S2 on CP-2 00:00-01:00 needs 1.84 kWh, S3 on CP-2
    01:00-03:00 needs 20 kWh.
    """
    return [
        SessionRecord("S1", "CP-1", hours(0), hours(2), 7.36, 7.36),
        SessionRecord("S2", "CP-2", hours(0), hours(1), 1.84, 1.84),
        SessionRecord("S3", "CP-2", hours(1), hours(3), 20.0, 20.0),
    ]
