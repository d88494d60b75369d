"""Tariff files: every sample loads; every mistake is reported with its key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.config import ConfigError
from ems.tariffs import FlatPrice, load_tariff

TARIFFS = Path(__file__).resolve().parents[2] / "data" / "tariffs"

FLAT = """
id = "t"
currency = "EUR"
[energy]
kind = "flat"
price_per_kwh = 0.30
"""
TOU = """
id = "t"
currency = "EUR"
timezone = "Europe/Berlin"
[energy]
kind = "time_of_use"
default_price_per_kwh = 0.3
[[energy.periods]]
name = "night"
from = "22:00"
to = "06:00"
price_per_kwh = 0.2
"""


@pytest.mark.parametrize("path", sorted(TARIFFS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_sample_tariff_loads(path: Path) -> None:
    tariff = load_tariff(path)
    assert tariff.id == path.stem
    assert len(tariff.currency) == 3 and tariff.minor_unit == 2  # EUR and USD samples


def test_prices_are_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(FLAT.replace("0.30", "0.1"))
    energy = load_tariff(path).energy
    assert isinstance(energy, FlatPrice)
    assert str(energy.price_per_kwh) == "0.1"


def test_currency_minor_unit_follows_iso_4217(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(FLAT.replace("EUR", "JPY"))
    assert load_tariff(path).minor_unit == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FLAT.replace('currency = "EUR"', 'currency = "euro"'), "currency: String should match"),
        (FLAT + "tax = 0.2\n", "energy.tax: unknown key"),
        (FLAT.replace('id = "t"', 'id = "t"\ntax_rate = 1.5'), "tax_rate: Input should be less"),
        (FLAT.replace('id = "t"', 'id = "t"\nsession_fee = -1'), "session_fee: Input should be"),
        (FLAT.replace('"flat"', '"hourly"'), "energy.kind: must be one of 'flat'"),
        (FLAT.replace("price_per_kwh", "price"), "energy.price: unknown key"),
        (FLAT.replace("0.30", "nan"), "energy.price_per_kwh: Input should be a finite number"),
        (FLAT.replace('id = "t"', 'id = "t"\ntimezone = "Mars/Olympus"'), "timezone: unknown"),
        (TOU.replace('"22:00"', '"25:00"'), r"energy.periods\[0\].from: '25:00' is not"),
        (TOU.replace("price_per_kwh = 0.2", "days = ['xyz']\nprice_per_kwh = 0.2"), "'xyz'"),
        (TOU.replace('timezone = "Europe/Berlin"\n', ""), "timezone: required for time-of-use"),
        (
            TOU.replace("default_price_per_kwh = 0.3\n", ""),
            "energy: default_price_per_kwh: required, the periods do not cover",
        ),
        (
            TOU + '[[energy.periods]]\nname = "x"\nfrom = "05:00"\nto = "07:00"\n'
            "price_per_kwh = 1\n",
            "energy: periods: windows 0 and 1 overlap on mon at 05:00",
        ),
        (
            'id = "x"\ncurrency = "EUR"\n[energy]\nkind = "series"\nfile = "none.csv"\n'
            "default_price_per_kwh = 0.2\n",
            "energy: file: no such file",
        ),
    ],
)
def test_mistakes_are_reported_with_their_key_and_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_tariff(path)
    assert str(path) in str(info.value)


def test_series_csv_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(
        "timestamp,price_per_kwh\n2024-06-03T00:00:00+02:00,0.2\n2024-06-03T01:00:00,0.3\n"
    )
    (tmp_path / "s.toml").write_text(
        'id = "s"\ncurrency = "EUR"\n[energy]\nkind = "series"\nfile = "p.csv"\n'
        "default_price_per_kwh = 0.2\n"
    )
    with pytest.raises(ConfigError, match=r"p.csv line 3: the timestamp needs a UTC offset"):
        load_tariff(tmp_path / "s.toml")


def test_missing_and_broken_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tariff file not found"):
        load_tariff(tmp_path / "nope.toml")
    (tmp_path / "b.toml").write_text("id = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_tariff(tmp_path / "b.toml")
