"""Fallback limits: max-min fair, quantized, 0 or at least the minimum, within capacity."""

from __future__ import annotations

from pathlib import Path

from ems.site import load_site

SITES = Path(__file__).resolve().parents[2] / "data" / "sites"

TIGHT = """
[site]
id = "tight"
timezone = "UTC"
[tariff]
id = "f"
currency = "EUR"
[tariff.energy]
kind = "flat"
price_per_kwh = 0.3
[[circuits]]
id = "grid"
limit_a = 63
[[chargers]]
charge_point_id = "CP-{n:02}"
count = 12
min_current_a = 6
max_current_a = 16
"""


def test_a_feeder_that_binds_first_leaves_the_rest_to_the_others() -> None:
    garage = load_site(SITES / "garage.toml")
    limits = garage.fallback_limits_a()
    # North: 12 three-phase chargers behind 100 A: 8.33 A each, quantized to 8.
    # South: per phase 160 A less 11.6 A base load less 12 * 8.33 A from the north, over
    # four single-phase chargers: 12.1 A, quantized to 12.
    assert {limits[f"GARAGE-N{n:02}/1"] for n in range(1, 13)} == {8.0}
    assert {limits[f"GARAGE-S{n:02}/1"] for n in range(1, 13)} == {12.0}


def test_when_an_equal_share_is_below_the_minimum_as_many_as_fit_get_the_minimum(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tight.toml"
    path.write_text(TIGHT)  # 63 A over 12 chargers is 5.25 A each, below their 6 A minimum
    limits = load_site(path).fallback_limits_a()
    assert sorted(limits.values()) == [0.0, 0.0] + [6.0] * 10
    assert [limits[f"CP-{n:02}/1"] for n in (1, 10, 11, 12)] == [6.0, 6.0, 0.0, 0.0]


def test_a_charger_with_its_own_fallback_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "tight.toml"
    path.write_text(TIGHT.replace("count = 12", "count = 2\nfallback_limit_a = 10"))
    assert load_site(path).fallback_limits_a() == {"CP-01/1": 10.0, "CP-02/1": 10.0}
