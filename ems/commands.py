"""The version-neutral commands a connected charge point accepts.

``ems.ocpp.v16`` and ``ems.ocpp.v201`` each implement :class:`ChargePointCommands`; callers (the
REST API, the control loop) get one from :meth:`ems.csms.CentralSystem.commands` and never learn
the OCPP version. Each call returns the charge point's answer as a :class:`CommandResult` or raises
a :class:`ems.domain.CommandError`.

Configuration is addressed as :class:`VariableRef`: in 1.6 only ``variable`` is used (the
configuration key); in 2.0.1 it is a device-model component/variable pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ems.domain import (
    Authorization,
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    CommandResult,
    IdToken,
    OcppVersion,
    ResetKind,
)

TriggerableMessage = Literal[
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "FirmwareStatusNotification",
    "DiagnosticsStatusNotification",
    "LogStatusNotification",
    "TransactionEvent",
    "SignChargingStationCertificate",
]


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """A charger's answer about one transaction: ``ongoing`` None when it did not say;
    ``messages_queued`` when it still holds messages of it to send."""

    ongoing: bool | None
    messages_queued: bool


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A configuration key (1.6) or component/variable (2.0.1)."""

    variable: str
    component: str = ""
    instance: str | None = None
    evse_id: int | None = None
    attribute_type: str = "Actual"

    @classmethod
    def parse(cls, text: str) -> VariableRef:
        """``"Component.Variable"`` or a bare 1.6 key such as ``"HeartbeatInterval"``."""
        component, _, variable = text.rpartition(".")
        return cls(variable=variable, component=component)

    def __str__(self) -> str:
        return f"{self.component}.{self.variable}" if self.component else self.variable


# What the control loop asks every charger to meter during a transaction.
CONTROL_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "SoC",
)


@dataclass(frozen=True, slots=True)
class SmartChargingCapabilities:
    """What a charger says about its smart charging; None (or empty) where it did not say.

    ``rate_units`` are the units its charging schedules may use (1.6
    ``ChargingScheduleAllowedChargingRateUnit``, 2.0.1 ``SmartChargingCtrlr.RateUnit``);
    ``max_stack_level`` its highest stack level (``ChargeProfileMaxStackLevel``,
    ``SmartChargingCtrlr.ProfileStackLevel``); ``max_periods`` how many periods a schedule may
    have (``ChargingScheduleMaxPeriods``, ``SmartChargingCtrlr.PeriodsPerSchedule``);
    ``phase_rotation`` how its connectors are wired (1.6 ``ConnectorPhaseRotation``, e.g.
    ``"0.RST,1.STR"``); ``phase_switching`` whether it can switch from three phases to one
    (``ConnectorSwitch3to1PhaseSupported``, ``SmartChargingCtrlr.Phases3to1``).
    """

    rate_units: tuple[ChargingRateUnit, ...] = ()
    max_stack_level: int | None = None
    max_periods: int | None = None
    phase_rotation: str | None = None
    phase_switching: bool | None = None


@dataclass(frozen=True, slots=True)
class LocalListEntry:
    """One id token of a local authorization list; ``authorization`` None removes it."""

    id_token: IdToken
    authorization: Authorization | None


class ChargePointCommands(Protocol):
    """Commands to one connected charge point, whatever OCPP version it speaks."""

    @property
    def version(self) -> OcppVersion: ...

    async def remote_start(
        self,
        id_token: IdToken,
        evse_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
        remote_start_id: int | None = None,
    ) -> CommandResult: ...

    async def remote_stop(self, transaction_id: str) -> CommandResult: ...

    async def transaction_status(self, transaction_id: str) -> TransactionStatus:
        """Whether the charger still runs the transaction (2.0.1 GetTransactionStatus; 1.6
        has no such question and raises CommandNotSupported)."""
        ...

    async def set_charging_profile(
        self, evse_id: int, profile: ChargingProfile
    ) -> CommandResult: ...

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ChargingProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> CommandResult: ...

    async def get_composite_schedule(
        self, evse_id: int, duration_s: int, unit: ChargingRateUnit | None = None
    ) -> CommandResult: ...

    async def change_availability(
        self, evse_id: int, operative: bool, connector_id: int | None = None
    ) -> CommandResult: ...

    async def reset(self, kind: ResetKind, evse_id: int | None = None) -> CommandResult: ...

    async def unlock_connector(self, evse_id: int, connector_id: int = 1) -> CommandResult: ...

    async def trigger_message(
        self, message: TriggerableMessage, evse_id: int | None = None
    ) -> CommandResult: ...

    async def get_variables(self, refs: Sequence[VariableRef] = ()) -> CommandResult: ...

    async def set_variables(self, values: Sequence[tuple[VariableRef, str]]) -> CommandResult: ...

    async def get_base_report(self, report_base: str = "FullInventory") -> CommandResult: ...

    async def smart_charging_capabilities(self) -> SmartChargingCapabilities:
        """Read the charger's smart-charging configuration (units, stack levels, periods)."""
        ...

    async def configure_metering(self, measurands: Sequence[str], interval_s: int) -> CommandResult:
        """Have the charger report ``measurands`` every ``interval_s`` during transactions."""
        ...

    async def send_local_list(
        self,
        list_version: int,
        entries: Sequence[LocalListEntry],
        update_type: Literal["Full", "Differential"] = "Full",
    ) -> CommandResult: ...

    async def get_local_list_version(self) -> CommandResult: ...

    async def clear_cache(self) -> CommandResult: ...

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> CommandResult: ...
