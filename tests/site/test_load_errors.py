"""Every mistake in a site file is reported with its key path and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.config import ConfigError
from ems.site import load_site, parse_phases

BASE = """
[site]
id = "t"
timezone = "Europe/Amsterdam"
{site_extra}
[tariff]
id = "flat"
currency = "EUR"
[tariff.energy]
kind = "flat"
price_per_kwh = 0.3

[[circuits]]
id = "grid"
limit_a = 63
{circuits}
[[chargers]]
charge_point_id = "CP-{{n}}"
count = 2
{charger_extra}
{rest}
"""


def site_text(
    site_extra: str = "", circuits: str = "", charger_extra: str = "", rest: str = ""
) -> str:
    return BASE.format(
        site_extra=site_extra, circuits=circuits, charger_extra=charger_extra, rest=rest
    )


def load_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    load_site(path)


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(site_text())
    site = load_site(path)
    assert [c.key for c in site.chargers] == ["CP-1/1", "CP-2/1"]
    assert site.tariff.timezone == "Europe/Amsterdam"  # the site's, by default


CASES = [
    (dict(site_extra="colour = 'red'"), "site.colour: unknown key"),
    (dict(site_extra="timezone2 = 1"), "site.timezone2: unknown key"),
    (dict(charger_extra="max_current_a = 5"), r"chargers\[0\].max_current_a: must be >= min"),
    (dict(charger_extra="max_current_a = -5"), r"chargers\[0\].max_current_a: Input should be"),
    (dict(charger_extra="phases = 'L1L4'"), r"chargers\[0\].phases: 'L1L4' is not a phase"),
    (dict(charger_extra="phases = 'L1L1'"), r"chargers\[0\].phases: 'L1L1' names a phase twice"),
    (
        dict(charger_extra="line_to_line = true"),
        r"chargers\[0\].phases: a line-to-line charger uses exactly two phases",
    ),
    (dict(charger_extra="circuit = 'nowhere'"), r"chargers\[0\].circuit: unknown circuit"),
    (dict(charger_extra="dc = true"), r"chargers\[0\].max_power_kw: required for a DC charger"),
    (
        dict(charger_extra="max_power_kw = 11"),
        r"chargers\[0\].max_power_kw: only for DC",
    ),
    (
        dict(rest="[[chargers]]\ncharge_point_id = 'CP-2'"),
        r"chargers\[1\]: duplicate charger 'CP-2/1' \(also chargers\[0\]\)",
    ),
    (
        dict(rest="[[chargers]]\ncharge_point_id = 'X'\ncount = 3"),
        r"chargers\[1\].charge_point_id: needs \{n\}",
    ),
    (dict(circuits="[[circuits]]\nid = 'a'\nparent = 'b'"), r"circuits\[1\].parent: unknown"),
    (
        dict(circuits="[[circuits]]\nid = 'a'\nparent = 'b'\n[[circuits]]\nid = 'b'\nparent = 'a'"),
        r"circuits\[1\].parent: the tree has a cycle a -> b -> a",
    ),
    (dict(circuits="[[circuits]]\nid = 'other'"), "exactly one circuit needs no parent"),
    (dict(circuits="[[circuits]]\nid = 'grid'\nparent = 'grid'"), r"circuits\[1\].id: duplicate"),
    (
        dict(circuits="[[circuits]]\nid = 'f'\nparent = 'grid'\nlimit_a = [1, 2]"),
        r"circuits\[1\].limit_a: give one number \(every phase\) or three",
    ),
    (
        dict(circuits="[[circuits.schedule]]\nfrom = '7:00'\nto = '19:00'\nlimit_kw = 5"),
        r"circuits\[0\].schedule\[0\].from: '7:00' is not a time of day",
    ),
    (
        dict(circuits="[[circuits.schedule]]\nfrom = '07:00'\nto = '19:00'"),
        r"circuits\[0\].schedule\[0\]: a schedule entry needs limit_a or limit_kw",
    ),
    (
        dict(
            circuits="[[circuits.schedule]]\nfrom = '07:00'\nto = '19:00'\nlimit_kw = 5\n"
            "[[circuits.schedule]]\nfrom = '18:00'\nto = '20:00'\nlimit_kw = 5"
        ),
        r"circuits\[0\].schedule: windows 0 and 1 overlap on mon at 18:00",
    ),
    (
        dict(rest="[[constraints]]\nid = 'c'\nupper_a = 10\ncoefficients = { 'CP-9/1' = 1 }"),
        r"constraints\[0\].coefficients.CP-9/1: unknown charger",
    ),
    (
        dict(rest="[[constraints]]\nid = 'c'\nupper_a = 1\nlower_a = 2\ncoefficients = {a = 1}"),
        r"constraints\[0\].lower_a: must be <= upper_a",
    ),
    (dict(rest="[meter]\nevse_id = 0"), "meter: give charge_point_id"),
    (dict(rest="[meter]\nbase_load_kw = 1\ncircuit = 'x'"), "meter.circuit: unknown circuit 'x'"),
    (dict(rest="[meter]\nprofile_kw = [1, 2, 3, 4, 5, 6, 7]"), "meter.profile_kw: needs a number"),
    (dict(rest="[control]\nslot_s = 700"), "control.slot_s: must be whole seconds that divide"),
    (
        dict(rest="[control]\nfirst_slots = [300, 400]"),
        r"control.first_slots\[1\]: must be whole seconds that divide slot_s",
    ),
    (
        dict(rest="[control]\nprofile_validity_s = 5"),
        "control.profile_validity_s: must be longer than interval_s",
    ),
    (dict(rest="[control]\nscheduler = 'magic'"), "control.scheduler: Input should be 'lp'"),
    (
        dict(rest="[control]\nfallback_limit_a = 32"),
        "control.fallback_limit_a: the configured fallback limits, drawn by every charger at "
        "once, break circuit grid phase L1",
    ),
]


@pytest.mark.parametrize(("parts", "message"), CASES, ids=[m[:40] for _, m in CASES])
def test_mistakes_are_reported_with_their_key_path_and_file(
    tmp_path: Path, parts: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_text(tmp_path, site_text(**parts))
    assert str(tmp_path / "site.toml") in str(info.value)


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = site_text(
        charger_extra="circuit = 'nowhere'",
        rest="[[constraints]]\nid = 'c'\nupper_a = 10\ncoefficients = { 'X/1' = 1 }",
    )
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert "chargers[0].circuit" in str(info.value)
    assert "constraints[0].coefficients.X/1" in str(info.value)


def test_tariff_must_be_given_once(tmp_path: Path) -> None:
    text = site_text(site_extra='tariff = "../tariffs/flat.toml"')
    with pytest.raises(ConfigError, match=r"site\.tariff: give a tariff file"):
        load_text(tmp_path, text)


def test_a_missing_tariff_file_is_named(tmp_path: Path) -> None:
    text = site_text().replace("[tariff]", "[unused]").split("[unused]")[0]
    text += '\n[[circuits]]\nid = "grid"\n'
    text = text.replace('timezone = "Europe/Amsterdam"', 'timezone = "Europe/Amsterdam"\n'
                        'tariff = "missing.toml"')
    with pytest.raises(ConfigError, match=r"site.tariff: tariff file not found: .*missing.toml"):
        load_text(tmp_path, text)


def test_inline_tariff_errors_carry_the_tariff_prefix(tmp_path: Path) -> None:
    text = site_text().replace("price_per_kwh = 0.3", "price_per_kwh = 'cheap'")
    with pytest.raises(ConfigError, match=r"tariff\.energy\.price_per_kwh: "):
        load_text(tmp_path, text)


def test_unknown_time_zone_is_named(tmp_path: Path) -> None:
    text = site_text().replace("Europe/Amsterdam", "Europe/Atlantis")
    with pytest.raises(ConfigError, match=r"site\.timezone: unknown time zone 'Europe/Atlantis'"):
        load_text(tmp_path, text)


def test_a_tariff_file_is_found_relative_to_the_site_file(tmp_path: Path) -> None:
    sites, tariffs = tmp_path / "sites", tmp_path / "tariffs"
    sites.mkdir()
    tariffs.mkdir()
    (tariffs / "x.toml").write_text(
        'id = "x"\ncurrency = "SEK"\n[energy]\nkind = "flat"\nprice_per_kwh = 1.5\n'
    )
    text = site_text().split("[tariff]")[0] + site_text().split("price_per_kwh = 0.3")[1]
    text = text.replace('timezone = "Europe/Amsterdam"', 'timezone = "Europe/Stockholm"\n'
                        'tariff = "../tariffs/x.toml"')
    (sites / "s.toml").write_text(text)
    site = load_site(sites / "s.toml")
    assert site.tariff.currency == "SEK" and site.tariff.timezone == "Europe/Stockholm"


def test_missing_file_and_broken_toml_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="site file not found"):
        load_site(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_text(tmp_path, "[site\n")


def test_constraint_may_name_a_single_evse_charge_point_by_its_id(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        site_text(rest="[[constraints]]\nid = 'c'\nupper_a = 20\ncoefficients = { CP-1 = 1.0 }")
    )
    assert load_site(path).constraints[0].coefficients == {"CP-1/1": 1.0}


def test_evses_expand_each_charge_point(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(site_text(charger_extra="evses = 2\nphases = ['L1', 'L2']"))
    site = load_site(path)
    assert [(c.key, c.phases) for c in site.chargers] == [
        ("CP-1/1", (0,)),
        ("CP-1/2", (0,)),
        ("CP-2/1", (1,)),
        ("CP-2/2", (1,)),
    ]
    assert site.charger_key("CP-2", 2) == "CP-2/2"


def test_configured_fallback_that_fits_is_used_as_is(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(site_text(rest="[control]\nfallback_limit_a = 16"))
    assert load_site(path).fallback_limits_a() == {"CP-1/1": 16.0, "CP-2/1": 16.0}


@pytest.mark.parametrize(
    ("text", "phases"),
    [("L1L2L3", (0, 1, 2)), ("l2l3l1", (1, 2, 0)), ("L3", (2,)), ("L3L1", (2, 0))],
)
def test_phase_strings(text: str, phases: tuple[int, ...]) -> None:
    assert parse_phases(text) == phases
