"""Tariffs from TOML files (``data/tariffs/*.toml``), checked with errors that name the key.

A tariff file (or a site's inline ``[tariff]`` table, same keys)::

    id = "tou-nl"                       # required
    name = "Time-of-use, Netherlands"   # default: the id
    currency = "EUR"                    # ISO 4217, required
    timezone = "Europe/Amsterdam"       # IANA; where periods are read (default: the site's, or UTC)
    tax_rate = 0.21                     # VAT added on the subtotal; every price below excludes it
    session_fee = 0.35                  # per session
    time_fee_per_hour = 0.0             # per hour plugged in
    idle_fee_per_min = 0.10             # per idle minute after the grace period
    idle_grace_min = 30
    idle_fee_cap = 15.0                 # per session, optional
    idle_rule = "end_of_charging"       # or "any_pause"
    charging_threshold_w = 100          # below this mean power an interval is not charging
    demand_charge_per_kw = 0.0          # per kW of the month's peak import (the site's cost)
    minor_unit = 2                      # decimals of the currency; default from ISO 4217

    [energy]                            # one of three kinds:
    kind = "flat"
    price_per_kwh = 0.30

    [energy]
    kind = "time_of_use"
    default_price_per_kwh = 0.24        # outside every period (needed unless they cover the week)
    default_name = "day"
    [[energy.periods]]
    name = "night"
    from = "23:00"                      # local time; to <= from runs past midnight
    to = "07:00"
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]   # optional: every day
    price_per_kwh = 0.16

    [energy]
    kind = "series"
    file = "dayahead-nl.csv"            # relative to this file: timestamp,price_per_kwh
    default_price_per_kwh = 0.25        # before and after the series
    step_min = 60                       # length of the last price; default: the last gap

Prices are decimals exactly as written (``0.1`` is one tenth, not a binary float).
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ems.config import ConfigError
from ems.tariffs.cost import IdleRule
from ems.tariffs.prices import EnergyPrice, FlatPrice, Period, SeriesPrice, TimeOfUsePrice
from ems.tariffs.tariff import Tariff, minor_unit_of
from ems.tariffs.weekly import ALL_DAYS, WeeklySchedule, Window, parse_clock_min, parse_days

_NAMED_KEY = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?: ")


class StrictModel(BaseModel):
    """A file section: unknown keys are errors, values frozen, no inf or nan."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


_Strict = StrictModel


class WindowFields(StrictModel):
    """``from``/``to`` local clock times and optional ``days``: a weekly window, checked.

    Shared by the tariffs' time-of-use periods and the sites' capacity schedules.
    """

    from_: str = Field(alias="from")
    to: str
    days: list[str] | None = None

    @field_validator("from_", "to")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock_min(value)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            parse_days(value)
        return value

    def window(self) -> Window:
        days = parse_days(self.days) if self.days is not None else ALL_DAYS
        return Window(parse_clock_min(self.from_), parse_clock_min(self.to), days)


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name like 'Europe/Berlin')"
        ) from None


class _TariffFile(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: str | None = None
    tax_rate: Decimal = Field(Decimal(0), ge=0, lt=1)
    session_fee: Decimal = Field(Decimal(0), ge=0)
    time_fee_per_hour: Decimal = Field(Decimal(0), ge=0)
    idle_fee_per_min: Decimal = Field(Decimal(0), ge=0)
    idle_grace_min: Decimal = Field(Decimal(0), ge=0)
    idle_fee_cap: Decimal | None = Field(None, ge=0)
    idle_rule: IdleRule = IdleRule.END_OF_CHARGING
    charging_threshold_w: float = Field(100.0, gt=0)
    demand_charge_per_kw: Decimal = Field(Decimal(0), ge=0)
    minor_unit: int | None = Field(None, ge=0, le=4)
    energy: dict[str, Any]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_named(value)
        return value


class _Flat(_Strict):
    kind: Literal["flat"]
    price_per_kwh: Decimal


class _PeriodEntry(WindowFields):
    name: str = Field(min_length=1)
    price_per_kwh: Decimal


class _TimeOfUse(_Strict):
    kind: Literal["time_of_use"]
    periods: list[_PeriodEntry] = Field(min_length=1)
    default_price_per_kwh: Decimal | None = None
    default_name: str = "standard"


class _Series(_Strict):
    kind: Literal["series"]
    file: str = Field(min_length=1)
    default_price_per_kwh: Decimal
    step_min: float | None = Field(None, gt=0)
    label: str = "energy"


_ENERGY_KINDS: dict[str, type[_Strict]] = {
    "flat": _Flat,
    "time_of_use": _TimeOfUse,
    "series": _Series,
}


def key_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """``('chargers', 3, 'max_current_a')`` as ``chargers[3].max_current_a``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def error_lines(error: ValidationError, prefix: str = "") -> list[str]:
    """One ``key: message`` line per problem, unknown keys called so.

    A check of several keys says which one it is about by starting its message with the key
    (``"max_power_kw: required ..."``); that key joins the path.
    """
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        loc = tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif named := _NAMED_KEY.match(message):
            index = () if named.group(2) is None else (int(named.group(2)),)
            loc, message = (*loc, named.group(1), *index), message[named.end() :]
        lines.append(f"{key_path(loc, prefix)}: {message}")
    return lines


def load_tariff(path: str | Path, default_timezone: str | None = None) -> Tariff:
    """Read and check a tariff file. Raises ConfigError naming the file and every bad key.

    ``default_timezone`` applies when the file names none (a site passes its own).
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"tariff file not found: {file}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"tariff file {file} is not valid TOML: {exc}") from None
    tariff, errors = parse_tariff(data, file.parent, default_timezone)
    if errors or tariff is None:
        raise ConfigError("\n  ".join([f"invalid tariff ({file}):", *errors]))
    return tariff


def parse_tariff(
    data: Mapping[str, Any], base_dir: Path, default_timezone: str | None = None, prefix: str = ""
) -> tuple[Tariff | None, list[str]]:
    """A tariff from its TOML table, or None and the errors (``key: message``, keys prefixed).

    Relative file names (a price series) are taken from ``base_dir``.
    """
    try:
        spec = _TariffFile.model_validate(data)
    except ValidationError as exc:
        return None, error_lines(exc, prefix)
    energy_prefix = key_path(("energy",), prefix)
    timezone = spec.timezone or default_timezone
    kind = spec.energy.get("kind")
    model = _ENERGY_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        names = ", ".join(repr(k) for k in _ENERGY_KINDS)
        return None, [f"{energy_prefix}.kind: must be one of {names}"]
    if timezone is None and kind == "time_of_use":
        return None, [f"{key_path(('timezone',), prefix)}: required for time-of-use periods"]
    try:
        energy_spec = model.model_validate(spec.energy)
    except ValidationError as exc:
        return None, error_lines(exc, energy_prefix)
    zone = ZoneInfo(timezone or "UTC")
    try:
        energy = _energy(energy_spec, zone, base_dir)
    except ValueError as exc:
        return None, [f"{energy_prefix}: {exc}"]
    currency = spec.currency
    tariff = Tariff(
        id=spec.id,
        name=spec.name or spec.id,
        currency=currency,
        energy=energy,
        timezone=zone.key,
        tax_rate=spec.tax_rate,
        session_fee=spec.session_fee,
        time_fee_per_hour=spec.time_fee_per_hour,
        idle_fee_per_min=spec.idle_fee_per_min,
        idle_grace_min=spec.idle_grace_min,
        idle_fee_cap=spec.idle_fee_cap,
        idle_rule=spec.idle_rule,
        charging_threshold_w=spec.charging_threshold_w,
        demand_charge_per_kw=spec.demand_charge_per_kw,
        minor_unit=minor_unit_of(currency) if spec.minor_unit is None else spec.minor_unit,
    )
    return tariff, []


def _energy(spec: _Strict, zone: ZoneInfo, base_dir: Path) -> EnergyPrice:
    if isinstance(spec, _Flat):
        return FlatPrice(spec.price_per_kwh)
    if isinstance(spec, _TimeOfUse):
        try:
            schedule = WeeklySchedule([p.window() for p in spec.periods], zone)
        except ValueError as exc:
            raise ValueError(f"periods: {exc}") from None
        default = (
            None
            if spec.default_price_per_kwh is None
            else Period(spec.default_name, spec.default_price_per_kwh)
        )
        if default is None and schedule.uncovered_minute() is not None:
            raise ValueError(
                "default_price_per_kwh: required, the periods do not cover the whole week"
            )
        periods = [Period(p.name, p.price_per_kwh) for p in spec.periods]
        return TimeOfUsePrice(schedule, periods, default)
    assert isinstance(spec, _Series)
    return read_price_series(
        base_dir / spec.file, spec.default_price_per_kwh, spec.step_min, spec.label
    )


def read_price_series(
    path: Path, default: Decimal, step_min: float | None = None, label: str = "energy"
) -> SeriesPrice:
    """A price series from a CSV of ``timestamp,price_per_kwh`` (ISO 8601 with offset).

    The last price lasts ``step_min`` minutes, by default as long as the gap before it.
    Raises ValueError naming the file and line.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"file: no such file {path}") from None
    times: list[datetime] = []
    prices: list[Decimal] = []
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or {"timestamp", "price_per_kwh"} - set(reader.fieldnames):
        raise ValueError(f"file: {path} needs the columns timestamp,price_per_kwh")
    for row in reader:
        where = f"file: {path} line {reader.line_num}"
        try:
            when = datetime.fromisoformat(row["timestamp"].strip())
            price = Decimal(row["price_per_kwh"].strip())
        except (ValueError, ArithmeticError, AttributeError):
            raise ValueError(f"{where}: not a timestamp and a price") from None
        if when.tzinfo is None or not price.is_finite():
            raise ValueError(f"{where}: the timestamp needs a UTC offset and the price a value")
        if times and when <= times[-1]:
            raise ValueError(f"{where}: timestamps must increase")
        times.append(when)
        prices.append(price)
    if not times:
        raise ValueError(f"file: {path} holds no prices")
    if step_min is None:
        if len(times) < 2:
            raise ValueError("step_min: required for a series of one price")
        step = times[-1] - times[-2]
    else:
        step = timedelta(minutes=step_min)
    return SeriesPrice(times, prices, times[-1] + step, default, label)
