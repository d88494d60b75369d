"""A simulated station's configuration: 1.6 keys, and the 2.0.1 variables that map onto them.

The station keeps one set of values under the 1.6 key names; a 2.0.1 station exposes the same
values as device-model variables under the names the 2.0.1 spec gives them (part 2, appendix
"Standardized components and variables"). Read-only keys describe the station's capabilities
and refuse changes; writable keys validate their values.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

SUPPORTED_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Power.Offered",
    "Current.Import",
    "Current.Offered",
    "Voltage",
    "SoC",
)
DEFAULT_MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,SoC"


class SetResult(enum.StrEnum):
    """Outcome of a change; the 1.6 ChangeConfiguration and 2.0.1 SetVariables words."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


def _non_negative_int(value: str) -> bool:
    return value.isdigit()


def _boolean(value: str) -> bool:
    return value.lower() in ("true", "false")


def _measurands(value: str) -> bool:
    items = [item.strip() for item in value.split(",") if item.strip()]
    return all(item in SUPPORTED_MEASURANDS for item in items)


@dataclass(slots=True)
class Key:
    """One configuration key: its value, whether it may change, and what a new value must be."""

    value: str
    readonly: bool = False
    valid: Callable[[str], bool] | None = None


# 2.0.1 (component, variable) -> 1.6 key
VARIABLES_201: dict[tuple[str, str], str] = {
    ("OCPPCommCtrlr", "HeartbeatInterval"): "HeartbeatInterval",
    ("SampledDataCtrlr", "Enabled"): "SampledDataEnabled",
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "MeterValuesSampledData",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "MeterValueSampleInterval",
    ("SampledDataCtrlr", "TxEndedMeasurands"): "StopTxnSampledData",
    ("AlignedDataCtrlr", "Measurands"): "MeterValuesAlignedData",
    ("AlignedDataCtrlr", "Interval"): "ClockAlignedDataInterval",
    ("SmartChargingCtrlr", "Enabled"): "SmartChargingEnabled",
    ("SmartChargingCtrlr", "RateUnit"): "ChargingScheduleAllowedChargingRateUnit",
    ("SmartChargingCtrlr", "ProfileStackLevel"): "ChargeProfileMaxStackLevel",
    ("SmartChargingCtrlr", "PeriodsPerSchedule"): "ChargingScheduleMaxPeriods",
    ("SmartChargingCtrlr", "Phases3to1"): "ConnectorSwitch3to1PhaseSupported",
    ("SmartChargingCtrlr", "ExternalControlSignalsEnabled"): "ExternalControlSignalsEnabled",
    ("SmartChargingCtrlr", "LimitChangeSignificance"): "LimitChangeSignificance",
    ("AuthCtrlr", "AuthorizeRemoteStart"): "AuthorizeRemoteTxRequests",
    ("TxCtrlr", "EVConnectionTimeOut"): "ConnectionTimeOut",
}
COMPONENTS_201 = frozenset(component for component, _ in VARIABLES_201)


class StationSettings:
    """The configuration keys of one station, with their rules."""

    def __init__(
        self,
        *,
        number_of_connectors: int,
        rate_units: str,
        max_stack_level: int,
        max_periods: int,
        phase_switch: bool,
        heartbeat_interval_s: int,
        meter_interval_s: int,
    ) -> None:
        true_false = "true" if phase_switch else "false"
        self._keys: dict[str, Key] = {
            "NumberOfConnectors": Key(str(number_of_connectors), readonly=True),
            "ChargingScheduleAllowedChargingRateUnit": Key(rate_units, readonly=True),
            "ChargeProfileMaxStackLevel": Key(str(max_stack_level), readonly=True),
            "ChargingScheduleMaxPeriods": Key(str(max_periods), readonly=True),
            "ConnectorSwitch3to1PhaseSupported": Key(true_false, readonly=True),
            "SmartChargingEnabled": Key("true", readonly=True),
            "ExternalControlSignalsEnabled": Key("false", valid=_boolean),
            "LimitChangeSignificance": Key("0", valid=_non_negative_int),
            "HeartbeatInterval": Key(str(heartbeat_interval_s), valid=_non_negative_int),
            "SampledDataEnabled": Key("true", valid=_boolean),
            "MeterValuesSampledData": Key(DEFAULT_MEASURANDS, valid=_measurands),
            "MeterValueSampleInterval": Key(str(meter_interval_s), valid=_non_negative_int),
            "StopTxnSampledData": Key("Energy.Active.Import.Register", valid=_measurands),
            "MeterValuesAlignedData": Key("Energy.Active.Import.Register", valid=_measurands),
            "ClockAlignedDataInterval": Key("0", valid=_non_negative_int),
            "AuthorizeRemoteTxRequests": Key("false", valid=_boolean),
            "ConnectionTimeOut": Key("120", valid=_non_negative_int),
        }

    def __iter__(self) -> Iterator[tuple[str, Key]]:
        return iter(self._keys.items())

    def get(self, name: str) -> Key | None:
        return self._keys.get(name)

    def set(self, name: str, value: str) -> SetResult:
        """Change ``name`` to ``value``: NotSupported for an unknown key, Rejected when read-only
        or invalid."""
        key = self._keys.get(name)
        if key is None:
            return SetResult.NOT_SUPPORTED
        if key.readonly or (key.valid is not None and not key.valid(value)):
            return SetResult.REJECTED
        key.value = value
        return SetResult.ACCEPTED

    def _int(self, name: str) -> int:
        return int(self._keys[name].value)

    @property
    def heartbeat_interval_s(self) -> int:
        return self._int("HeartbeatInterval")

    @heartbeat_interval_s.setter
    def heartbeat_interval_s(self, value: int) -> None:
        self._keys["HeartbeatInterval"].value = str(value)

    @property
    def meter_interval_s(self) -> int:
        """Seconds between meter values during a transaction; 0 sends none."""
        if self._keys["SampledDataEnabled"].value.lower() != "true":
            return 0
        return self._int("MeterValueSampleInterval")

    @property
    def measurands(self) -> tuple[str, ...]:
        value = self._keys["MeterValuesSampledData"].value
        return tuple(item.strip() for item in value.split(",") if item.strip())

    @property
    def authorize_remote_start(self) -> bool:
        return self._keys["AuthorizeRemoteTxRequests"].value.lower() == "true"


_UNIT_WORDS_16 = {"A": "Current", "W": "Power"}


def rate_units_16(units: str) -> str:
    """``A,W`` (2.0.1, and how stations are configured here) as 1.6 words ``Current,Power``."""
    return ",".join(_UNIT_WORDS_16[u.strip()] for u in units.split(",") if u.strip())


def rate_units_201(words: str) -> str:
    """The 1.6 words ``Current,Power`` as 2.0.1's ``A,W``."""
    back = {v: k for k, v in _UNIT_WORDS_16.items()}
    return ",".join(back[w.strip()] for w in words.split(",") if w.strip())
