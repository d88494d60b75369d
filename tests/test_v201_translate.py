"""OCPP 2.0.1 translation: pure functions, and the session's messages against the official schemas.

The session runs on a loopback transport: every CALL it sends is validated by the RPC layer and
answered from ``Wire.answers``; every CALL fed to it is answered into ``Wire.out``. The central
system behind it is a fake that records what the edge tells it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from types import SimpleNamespace
from typing import Any

import pytest
from ocpp.charge_point import remove_nones, serialize_as_dict
from ocpp.v201 import call_result

from ems.commands import LocalListEntry, VariableRef
from ems.domain import (
    Authorization,
    AuthorizationStatus,
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    CommandNotSupported,
    ConnectorStatus,
    IdToken,
    InvalidCommand,
    OcppVersion,
    Registration,
    ResetKind,
)
from ems.events import ChargingNeedsReported
from ems.ocpp import schemas
from ems.ocpp.rpc import to_camel, to_snake
from ems.ocpp.translate import overall_status
from ems.ocpp.v201 import (
    V201Session,
    boot_info,
    charging_needs_of,
    charging_profile_201,
    id_token_info,
    reported_settings,
    samples_of,
    status_of,
    token_of,
)
from ems.store.units import Unit

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
V201 = OcppVersion.V201


def wire_answer(result: Any) -> dict[str, Any]:
    """A handler's answer as the RPC layer puts it on the wire."""
    return to_camel(remove_nones(serialize_as_dict(result)))  # type: ignore[no-any-return]


def profile(
    purpose: ChargingProfilePurpose = ChargingProfilePurpose.TX_DEFAULT,
    transaction_id: str | None = None,
    **schedule: Any,
) -> ChargingProfile:
    periods = (
        ChargingSchedulePeriod(0, 16.04, number_phases=3),
        ChargingSchedulePeriod(900, 6.0, number_phases=1, phase_to_use=2),
    )
    return ChargingProfile(
        id=7,
        stack_level=1,
        purpose=purpose,
        schedule=ChargingSchedule(ChargingRateUnit.A, periods, **schedule),
        transaction_id=transaction_id,
    )


# ---- pure translation ----------------------------------------------------------------------


def test_samples_scale_by_the_unit_multiplier() -> None:
    [energy, power] = samples_of(
        [
            {
                "timestamp": "2025-03-01T12:00:00Z",
                "sampled_value": [
                    {"value": 12.5, "unit_of_measure": {"unit": "kWh", "multiplier": 0}},
                    {
                        "value": 11,
                        "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "W", "multiplier": 3},
                        "context": "Transaction.Begin",
                        "phase": "L1",
                    },
                ],
            }
        ]
    )
    assert (energy.measurand, energy.value, energy.unit) == (
        "Energy.Active.Import.Register",
        12.5,
        "kWh",
    )
    assert (power.value, power.unit, power.phase, power.context) == (
        11000.0,
        "W",
        "L1",
        "Transaction.Begin",
    )
    assert energy.timestamp == NOW


def test_samples_without_unit_of_measure_get_the_measurands_unit_and_spec_defaults() -> None:
    [power, current, soc] = samples_of(
        [
            {
                "timestamp": "2025-03-01T12:00:00+01:00",
                "sampled_value": [
                    {"value": 7200, "measurand": "Power.Active.Import"},
                    {"value": 16, "measurand": "Current.Import", "unit_of_measure": {}},
                    {"value": 80, "measurand": "SoC", "location": "EV"},
                ],
            }
        ]
    )
    assert power.timestamp == NOW - timedelta(hours=1)
    assert (power.unit, power.context, power.location) == ("W", "Sample.Periodic", "Outlet")
    assert current.unit == "A"
    assert (soc.unit, soc.location) == ("Percent", "EV")


def test_negative_multiplier_scales_down() -> None:
    [s] = samples_of(
        [
            {
                "timestamp": "2025-03-01T12:00:00Z",
                "sampled_value": [{"value": 1234, "unit_of_measure": {"multiplier": -1}}],
            }
        ]
    )
    assert s.value == pytest.approx(123.4)
    assert s.unit == "Wh"


def test_every_201_connector_status_maps_onto_the_domain() -> None:
    path = resources.files("ocpp") / "v201" / "schemas" / "StatusNotificationRequest.json"
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    values = schema["definitions"]["ConnectorStatusEnumType"]["enum"]
    assert [status_of(v) for v in values] == [
        ConnectorStatus.AVAILABLE,
        ConnectorStatus.OCCUPIED,
        ConnectorStatus.RESERVED,
        ConnectorStatus.UNAVAILABLE,
        ConnectorStatus.FAULTED,
    ]


def test_boot_info_takes_the_modem_and_the_reason() -> None:
    info = boot_info(
        "PowerUp",
        {
            "vendor_name": "Acme",
            "model": "Wallbox 22",
            "serial_number": "SN1",
            "firmware_version": "1.2.3",
            "modem": {"iccid": "8931", "imsi": "2620"},
        },
    )
    assert (info.vendor, info.model, info.serial_number, info.firmware_version) == (
        "Acme",
        "Wallbox 22",
        "SN1",
        "1.2.3",
    )
    assert (info.iccid, info.imsi, info.reason) == ("8931", "2620", "PowerUp")
    assert boot_info("Unknown", {"vendor_name": "A", "model": "B"}).iccid is None


def test_token_keeps_its_type() -> None:
    assert token_of({"id_token": "04A1", "type": "ISO15693"}) == IdToken("04A1", "ISO15693")


@pytest.mark.parametrize("status", list(AuthorizationStatus))
def test_every_authorization_status_is_a_valid_authorize_answer(
    status: AuthorizationStatus,
) -> None:
    answer = wire_answer(call_result.Authorize(id_token_info=id_token_info(Authorization(status))))
    schemas.validate(V201, "Authorize", answer, response=True)
    assert answer == {"idTokenInfo": {"status": status.value}}


def test_concurrent_tx_and_unknown_keep_their_201_names() -> None:
    assert (
        id_token_info(Authorization(AuthorizationStatus.CONCURRENT_TX))["status"] == "ConcurrentTx"
    )
    assert id_token_info(Authorization(AuthorizationStatus.UNKNOWN))["status"] == "Unknown"


def test_id_token_info_carries_expiry_and_group_as_a_central_token() -> None:
    authorization = Authorization(
        AuthorizationStatus.ACCEPTED, expires_at=NOW + timedelta(days=1), group_id="FLEET-1"
    )
    answer = wire_answer(call_result.TransactionEvent(id_token_info=id_token_info(authorization)))
    schemas.validate(V201, "TransactionEvent", answer, response=True)
    assert answer["idTokenInfo"] == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2025-03-02T12:00:00.000Z",
        "groupIdToken": {"idToken": "FLEET-1", "type": "Central"},
    }


@pytest.mark.parametrize(
    ("purpose", "transaction_id", "schedule"),
    [
        (ChargingProfilePurpose.TX, "tx-1", {}),
        (ChargingProfilePurpose.TX_DEFAULT, None, {"duration_s": 3600, "min_rate": 6.04}),
        (ChargingProfilePurpose.CHARGE_POINT_MAX, None, {"start_schedule": NOW, "id": 3}),
    ],
)
def test_charging_profile_201_validates_against_the_official_schema(
    purpose: ChargingProfilePurpose, transaction_id: str | None, schedule: dict[str, Any]
) -> None:
    p = profile(purpose, transaction_id, **schedule)
    payload = {"evseId": 0 if schedule.get("id") else 1, "chargingProfile": charging_profile_201(p)}
    schemas.validate(V201, "SetChargingProfile", payload, response=False)


def test_charging_profile_201_form() -> None:
    p = ChargingProfile(
        id=7,
        stack_level=2,
        purpose=ChargingProfilePurpose.CHARGE_POINT_MAX,
        kind=ChargingProfileKind.RECURRING,
        recurrency="Daily",
        valid_from=NOW,
        valid_to=NOW + timedelta(days=30),
        schedule=ChargingSchedule(
            ChargingRateUnit.W,
            (ChargingSchedulePeriod(0, 11000.04), ChargingSchedulePeriod(3600, 7400)),
            duration_s=86400,
            start_schedule=NOW,
            min_rate=1380,
            id=4,
        ),
    )
    assert charging_profile_201(p) == {
        "id": 7,
        "stackLevel": 2,
        "chargingProfilePurpose": "ChargingStationMaxProfile",
        "chargingProfileKind": "Recurring",
        "recurrencyKind": "Daily",
        "validFrom": "2025-03-01T12:00:00.000Z",
        "validTo": "2025-03-31T12:00:00.000Z",
        "chargingSchedule": [
            {
                "id": 4,
                "chargingRateUnit": "W",
                "startSchedule": "2025-03-01T12:00:00.000Z",
                "duration": 86400,
                "minChargingRate": 1380,
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000.0},
                    {"startPeriod": 3600, "limit": 7400},
                ],
            }
        ],
    }


def test_tx_profile_names_its_transaction_as_text_and_keeps_phase_to_use() -> None:
    body = charging_profile_201(profile(ChargingProfilePurpose.TX, "a1b2"))
    assert body["transactionId"] == "a1b2"
    assert body["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
        {"startPeriod": 900, "limit": 6.0, "numberPhases": 1, "phaseToUse": 2},
    ]


def test_reported_settings_one_per_attribute_with_readonly_from_mutability() -> None:
    settings = reported_settings(
        [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "MessageTimeout", "instance": "Default"},
                "variable_attribute": [{"value": "30", "mutability": "ReadOnly"}],
            },
            {
                "component": {"name": "EVSE", "evse": {"id": 2}},
                "variable": {"name": "Power"},
                "variable_attribute": [
                    {"type": "Actual", "value": "0"},
                    {"type": "MaxSet", "value": "22000", "mutability": "ReadWrite"},
                    {"type": "Target", "mutability": "WriteOnly"},
                ],
            },
        ]
    )
    assert settings == [
        (VariableRef("MessageTimeout", "OCPPCommCtrlr", instance="Default"), "30", True),
        (VariableRef("Power", "EVSE", evse_id=2), "0", False),
        (VariableRef("Power", "EVSE", evse_id=2, attribute_type="MaxSet"), "22000", False),
        (VariableRef("Power", "EVSE", evse_id=2, attribute_type="Target"), None, False),
    ]


def test_ac_charging_needs() -> None:
    event = charging_needs_of(
        "cp1",
        1,
        {
            "requested_energy_transfer": "AC_three_phase",
            "departure_time": "2025-03-01T18:00:00Z",
            "ac_charging_parameters": {
                "energy_amount": 30000,
                "ev_min_current": 6,
                "ev_max_current": 32,
                "ev_max_voltage": 400,
            },
        },
    )
    assert event == ChargingNeedsReported(
        charge_point_id="cp1",
        evse_id=1,
        departure_time=NOW + timedelta(hours=6),
        energy_amount_wh=30000.0,
        max_current_a=32.0,
        max_power_w=None,
        energy_transfer_mode="AC_three_phase",
    )


def test_dc_charging_needs_without_departure() -> None:
    event = charging_needs_of(
        "cp1",
        2,
        {
            "requested_energy_transfer": "DC",
            "dc_charging_parameters": {
                "ev_max_current": 200,
                "ev_max_voltage": 800,
                "ev_max_power": 150000,
                "energy_amount": 45000,
            },
        },
    )
    assert (event.departure_time, event.energy_amount_wh) == (None, 45000.0)
    assert (event.max_current_a, event.max_power_w) == (200.0, 150000.0)


def test_overall_status_is_the_common_word_or_mixed() -> None:
    assert overall_status(["Accepted", "Accepted"]) == "Accepted"
    assert overall_status(["Rejected"]) == "Rejected"
    assert overall_status(["Accepted", "RebootRequired"]) == "Mixed"


# ---- the session on a loopback transport ---------------------------------------------------


class FakeCsms:
    """Records what the edge reports; answers with fixed registration and authorization."""

    def __init__(self) -> None:
        self.settings = SimpleNamespace(
            ocpp=SimpleNamespace(
                log_frames=False,
                call_timeout_s=1.0,
                heartbeat_interval_s=300,
                pending_retry_interval_s=60,
            )
        )
        self.recorder = SimpleNamespace(
            profile=lambda *args: self.calls.append(("profile", args)),
            unit=lambda: contextlib.nullcontext(Unit()),
            commit=self._committed,
            submit=lambda unit: None,
        )
        self.registration_state = Registration.ACCEPTED
        self.authorization = Authorization(AuthorizationStatus.ACCEPTED)
        self.calls: list[tuple[str, Any]] = []

    def clock(self) -> datetime:
        return NOW

    async def _committed(self, unit: Unit) -> None:
        self.calls.append(("committed", unit))

    def registration(self, charge_point_id: str) -> Registration:
        return self.registration_state

    def boot(self, charge_point_id: str, info: Any) -> Registration:
        self.calls.append(("boot", info))
        return self.registration_state

    def seen(self, charge_point_id: str) -> None:
        self.calls.append(("seen", charge_point_id))

    def status(self, charge_point_id: str, report: Any) -> None:
        self.calls.append(("status", report))

    async def authorize(self, charge_point_id: str, token: IdToken) -> Authorization:
        self.calls.append(("authorize", token))
        return self.authorization

    async def transaction_event(self, charge_point_id: str, **kwargs: Any) -> Any:
        self.calls.append(("transaction_event", kwargs))
        return self.authorization if kwargs["token"] is not None else None

    async def meter_values(self, *args: Any) -> None:
        self.calls.append(("meter_values", args))

    def charging_needs(self, event: ChargingNeedsReported) -> None:
        self.calls.append(("charging_needs", event))

    def record_settings(self, charge_point_id: str, values: Any) -> None:
        self.calls.append(("record_settings", list(values)))

    def report(self, charge_point_id: str, kind: str, payload: dict[str, Any]) -> None:
        self.calls.append(("report", (kind, payload)))

    def last(self, name: str) -> Any:
        return next(args for call, args in reversed(self.calls) if call == name)


class Wire:
    """Loopback: answers the session's CALLs and keeps every frame it sends."""

    def __init__(self) -> None:
        self.csms = FakeCsms()
        self.session = V201Session(self.csms, "cp1", self.send, self.close)  # type: ignore[arg-type]
        self.out: list[list[Any]] = []
        self.answers: dict[str, dict[str, Any]] = {}

    async def send(self, text: str) -> None:
        message = json.loads(text)
        self.out.append(message)
        if message[0] == 2:
            answer = self.answers.get(message[2], {"status": "Accepted"})
            await self.session.route_message(json.dumps([3, message[1], answer]))

    async def close(self, code: int, reason: str) -> None:
        pass

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Feed a CALL from the charge point; return the session's answer frame."""
        await self.session.route_message(json.dumps([2, "m1", action, payload]))
        return self.out[-1]

    def sent(self, action: str) -> dict[str, Any]:
        return next(m[3] for m in reversed(self.out) if m[0] == 2 and m[2] == action)  # type: ignore[no-any-return]


@pytest.fixture
def wire() -> Wire:
    return Wire()


TX_STARTED = {
    "eventType": "Started",
    "timestamp": "2025-03-01T12:00:00Z",
    "triggerReason": "Authorized",
    "seqNo": 0,
    "transactionInfo": {"transactionId": "tx-1", "chargingState": "Charging"},
    "evse": {"id": 1, "connectorId": 1},
    "meterValue": [
        {
            "timestamp": "2025-03-01T12:00:00Z",
            "sampledValue": [
                {
                    "value": 1.5,
                    "context": "Transaction.Begin",
                    "unitOfMeasure": {"unit": "kWh"},
                }
            ],
        }
    ],
}


async def test_boot_is_answered_with_the_registration_and_interval(wire: Wire) -> None:
    wire.csms.registration_state = Registration.PENDING
    answer = await wire.call(
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "W22"}},
    )
    assert answer == [
        3,
        "m1",
        {"currentTime": "2025-03-01T12:00:00.000Z", "interval": 60, "status": "Pending"},
    ]
    assert wire.csms.last("boot").reason == "PowerUp"


async def test_heartbeat_answers_the_time(wire: Wire) -> None:
    assert await wire.call("Heartbeat", {}) == [
        3,
        "m1",
        {"currentTime": "2025-03-01T12:00:00.000Z"},
    ]


async def test_status_notification_reports_evse_and_connector(wire: Wire) -> None:
    answer = await wire.call(
        "StatusNotification",
        {
            "timestamp": "2025-03-01T12:00:00Z",
            "connectorStatus": "Occupied",
            "evseId": 2,
            "connectorId": 1,
        },
    )
    assert answer == [3, "m1", {}]
    report = wire.csms.last("status")
    assert (report.evse_id, report.connector_id, report.status) == (2, 1, ConnectorStatus.OCCUPIED)


async def test_status_notification_of_a_rejected_station_is_refused(wire: Wire) -> None:
    wire.csms.registration_state = Registration.REJECTED
    answer = await wire.call(
        "StatusNotification",
        {
            "timestamp": "2025-03-01T12:00:00Z",
            "connectorStatus": "Available",
            "evseId": 1,
            "connectorId": 1,
        },
    )
    assert answer[0] == 4 and answer[2] == "SecurityError"


async def test_authorize_before_acceptance_is_refused(wire: Wire) -> None:
    wire.csms.registration_state = Registration.PENDING
    answer = await wire.call("Authorize", {"idToken": {"idToken": "04A1", "type": "ISO14443"}})
    assert answer[0] == 4 and answer[2] == "SecurityError"


async def test_authorize_answers_the_token_status(wire: Wire) -> None:
    wire.csms.authorization = Authorization(AuthorizationStatus.BLOCKED, group_id="G")
    answer = await wire.call("Authorize", {"idToken": {"idToken": "04A1", "type": "ISO14443"}})
    assert answer[2] == {
        "idTokenInfo": {"status": "Blocked", "groupIdToken": {"idToken": "G", "type": "Central"}}
    }
    assert wire.csms.last("authorize") == IdToken("04A1", "ISO14443")


async def test_transaction_event_without_token_is_answered_without_token_info(
    wire: Wire,
) -> None:
    answer = await wire.call("TransactionEvent", TX_STARTED)
    assert answer == [3, "m1", {}]
    event = wire.csms.last("transaction_event")
    assert event["transaction_id"] == "tx-1"
    assert (event["event_type"], event["seq_no"], event["offline"]) == ("Started", 0, False)
    assert (event["evse_id"], event["connector_id"], event["token"]) == (1, 1, None)
    assert event["timestamp"] == NOW
    [begin] = event["samples"]
    assert (begin.value, begin.unit, begin.context) == (1.5, "kWh", "Transaction.Begin")


async def test_transaction_event_with_token_gets_its_token_info(wire: Wire) -> None:
    wire.csms.authorization = Authorization(AuthorizationStatus.CONCURRENT_TX)
    ended = {
        **TX_STARTED,
        "eventType": "Ended",
        "seqNo": 3,
        "offline": True,
        "transactionInfo": {"transactionId": "tx-1", "stoppedReason": "EVDisconnected"},
        "idToken": {"idToken": "04A1", "type": "ISO14443"},
    }
    answer = await wire.call("TransactionEvent", ended)
    assert answer == [3, "m1", {"idTokenInfo": {"status": "ConcurrentTx"}}]
    event = wire.csms.last("transaction_event")
    assert (event["stopped_reason"], event["offline"]) == ("EVDisconnected", True)
    assert event["token"] == IdToken("04A1", "ISO14443")


async def test_transaction_without_authorization_is_accepted_without_a_lookup(
    wire: Wire,
) -> None:
    wire.csms.authorization = Authorization(AuthorizationStatus.INVALID)
    free = {**TX_STARTED, "idToken": {"idToken": "", "type": "NoAuthorization"}}
    answer = await wire.call("TransactionEvent", free)
    assert answer == [3, "m1", {"idTokenInfo": {"status": "Accepted"}}]
    assert wire.csms.last("transaction_event")["token"] is None


async def test_transaction_event_before_acceptance_is_refused(wire: Wire) -> None:
    wire.csms.registration_state = Registration.PENDING
    answer = await wire.call("TransactionEvent", TX_STARTED)
    assert answer[0] == 4 and answer[2] == "SecurityError"


async def test_meter_values_go_to_the_evse_without_transaction_id(wire: Wire) -> None:
    answer = await wire.call(
        "MeterValues",
        {
            "evseId": 2,
            "meterValue": [
                {
                    "timestamp": "2025-03-01T12:00:00Z",
                    "sampledValue": [
                        {
                            "value": 7.2,
                            "measurand": "Power.Active.Import",
                            "unitOfMeasure": {"unit": "W", "multiplier": 3},
                        }
                    ],
                }
            ],
        },
    )
    assert answer == [3, "m1", {}]
    evse_id, connector_id, transaction_id, [power] = wire.csms.last("meter_values")[1:]
    assert (evse_id, connector_id, transaction_id) == (2, 1, None)
    assert (power.value, power.unit) == (7200.0, "W")


async def test_notify_report_records_the_reported_variables(wire: Wire) -> None:
    answer = await wire.call(
        "NotifyReport",
        {
            "requestId": 1,
            "generatedAt": "2025-03-01T12:00:00Z",
            "seqNo": 0,
            "tbc": False,
            "reportData": [
                {
                    "component": {"name": "EVSE", "evse": {"id": 1}},
                    "variable": {"name": "AvailabilityState"},
                    "variableAttribute": [{"value": "Available", "mutability": "ReadOnly"}],
                }
            ],
        },
    )
    assert answer == [3, "m1", {}]
    assert wire.csms.last("record_settings") == [
        (VariableRef("AvailabilityState", "EVSE", evse_id=1), "Available", True)
    ]


async def test_ev_charging_needs_are_reported_and_accepted(wire: Wire) -> None:
    answer = await wire.call(
        "NotifyEVChargingNeeds",
        {
            "evseId": 1,
            "chargingNeeds": {
                "requestedEnergyTransfer": "AC_single_phase",
                "acChargingParameters": {
                    "energyAmount": 12000,
                    "evMinCurrent": 6,
                    "evMaxCurrent": 16,
                    "evMaxVoltage": 230,
                },
            },
        },
    )
    assert answer == [3, "m1", {"status": "Accepted"}]
    event = wire.csms.last("charging_needs")
    assert (event.charge_point_id, event.energy_amount_wh, event.max_current_a) == (
        "cp1",
        12000.0,
        16.0,
    )


@pytest.mark.parametrize(
    ("action", "payload", "kind"),
    [
        (
            "NotifyEvent",
            {
                "generatedAt": "2025-03-01T12:00:00Z",
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": "2025-03-01T12:00:00Z",
                        "trigger": "Alerting",
                        "actualValue": "true",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Problem"},
                    }
                ],
            },
            "notify_event",
        ),
        (
            "SecurityEventNotification",
            {"type": "StartupOfTheDevice", "timestamp": "2025-03-01T12:00:00Z"},
            "security_event",
        ),
        ("FirmwareStatusNotification", {"status": "Installed", "requestId": 4}, "firmware_status"),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 5}, "log_status"),
    ],
)
async def test_notifications_are_kept_for_audit(
    wire: Wire, action: str, payload: dict[str, Any], kind: str
) -> None:
    assert await wire.call(action, payload) == [3, "m1", {}]
    recorded_kind, recorded = wire.csms.last("report")
    assert recorded_kind == kind
    assert to_snake(payload).items() <= recorded.items()


async def test_data_transfer_is_kept_and_answered_unknown_vendor(wire: Wire) -> None:
    answer = await wire.call("DataTransfer", {"vendorId": "acme", "messageId": "x", "data": "1"})
    assert answer == [3, "m1", {"status": "UnknownVendorId"}]
    assert wire.csms.last("report") == (
        "data_transfer",
        {"vendor_id": "acme", "message_id": "x", "data": "1"},
    )


# ---- commands ------------------------------------------------------------------------------


async def test_remote_start_numbers_its_requests(wire: Wire) -> None:
    token = IdToken("APP-1", "Central")
    await wire.session.remote_start(token, evse_id=1)
    assert wire.sent("RequestStartTransaction") == {
        "idToken": {"idToken": "APP-1", "type": "Central"},
        "remoteStartId": 1,
        "evseId": 1,
    }
    await wire.session.remote_start(token)
    assert wire.sent("RequestStartTransaction")["remoteStartId"] == 2
    await wire.session.remote_start(token, remote_start_id=77)
    assert wire.sent("RequestStartTransaction")["remoteStartId"] == 77


async def test_remote_start_with_a_tx_profile(wire: Wire) -> None:
    p = profile(ChargingProfilePurpose.TX)
    result = await wire.session.remote_start(IdToken("A"), evse_id=1, charging_profile=p)
    assert result.status == "Accepted"
    assert wire.sent("RequestStartTransaction")["chargingProfile"]["chargingProfilePurpose"] == (
        "TxProfile"
    )


async def test_remote_start_refuses_other_profiles_and_evse_0(wire: Wire) -> None:
    with pytest.raises(CommandNotSupported):
        await wire.session.remote_start(IdToken("A"), charging_profile=profile())
    with pytest.raises(InvalidCommand):
        await wire.session.remote_start(
            IdToken("A"), charging_profile=profile(ChargingProfilePurpose.TX, "tx-1")
        )
    with pytest.raises(InvalidCommand):
        await wire.session.remote_start(IdToken("A"), evse_id=0)
    assert wire.out == []


async def test_remote_stop_sends_the_transaction_id_as_text(wire: Wire) -> None:
    await wire.session.remote_stop("b7e1-42")
    assert wire.sent("RequestStopTransaction") == {"transactionId": "b7e1-42"}


async def test_set_charging_profile_is_recorded_with_the_answer(wire: Wire) -> None:
    result = await wire.session.set_charging_profile(1, profile(ChargingProfilePurpose.TX, "tx-9"))
    assert result.status == "Accepted"
    sent = wire.sent("SetChargingProfile")
    assert (sent["evseId"], sent["chargingProfile"]["transactionId"]) == (1, "tx-9")
    _, evse_id, recorded, _, status, error = wire.csms.last("profile")
    assert (evse_id, recorded["transaction_id"], status, error) == (1, "tx-9", "Accepted", None)


async def test_tx_profile_without_transaction_is_refused_before_sending(wire: Wire) -> None:
    with pytest.raises(InvalidCommand, match=r"K01\.FR\.03"):
        await wire.session.set_charging_profile(1, profile(ChargingProfilePurpose.TX))
    with pytest.raises(InvalidCommand):
        await wire.session.set_charging_profile(1, profile(ChargingProfilePurpose.CHARGE_POINT_MAX))
    assert wire.out == []


async def test_clear_charging_profile_by_id_or_criteria(wire: Wire) -> None:
    await wire.session.clear_charging_profile(profile_id=7)
    assert wire.sent("ClearChargingProfile") == {"chargingProfileId": 7}
    await wire.session.clear_charging_profile(
        evse_id=0, purpose=ChargingProfilePurpose.CHARGE_POINT_MAX, stack_level=1
    )
    assert wire.sent("ClearChargingProfile") == {
        "chargingProfileCriteria": {
            "evseId": 0,
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "stackLevel": 1,
        }
    }


async def test_get_composite_schedule(wire: Wire) -> None:
    await wire.session.get_composite_schedule(1, 3600, ChargingRateUnit.W)
    assert wire.sent("GetCompositeSchedule") == {
        "duration": 3600,
        "evseId": 1,
        "chargingRateUnit": "W",
    }


async def test_change_availability_of_the_station_or_an_evse(wire: Wire) -> None:
    await wire.session.change_availability(0, operative=False)
    assert wire.sent("ChangeAvailability") == {"operationalStatus": "Inoperative"}
    await wire.session.change_availability(2, operative=True, connector_id=1)
    assert wire.sent("ChangeAvailability") == {
        "operationalStatus": "Operative",
        "evse": {"id": 2, "connectorId": 1},
    }


@pytest.mark.parametrize(
    ("kind", "evse_id", "expected"),
    [
        (ResetKind.HARD, None, {"type": "Immediate"}),
        (ResetKind.SOFT, None, {"type": "OnIdle"}),
        (ResetKind.SOFT, 2, {"type": "OnIdle", "evseId": 2}),
    ],
)
async def test_reset_kinds(
    wire: Wire, kind: ResetKind, evse_id: int | None, expected: dict[str, Any]
) -> None:
    await wire.session.reset(kind, evse_id)
    assert wire.sent("Reset") == expected


async def test_unlock_connector(wire: Wire) -> None:
    wire.answers["UnlockConnector"] = {"status": "Unlocked"}
    result = await wire.session.unlock_connector(2)
    assert result.status == "Unlocked"
    assert wire.sent("UnlockConnector") == {"evseId": 2, "connectorId": 1}


async def test_trigger_message_uses_201_names_and_refuses_1_6_only_ones(wire: Wire) -> None:
    await wire.session.trigger_message("TransactionEvent", evse_id=1)
    assert wire.sent("TriggerMessage") == {
        "requestedMessage": "TransactionEvent",
        "evse": {"id": 1},
    }
    await wire.session.trigger_message("SignChargingStationCertificate")
    assert wire.sent("TriggerMessage") == {"requestedMessage": "SignChargingStationCertificate"}
    with pytest.raises(CommandNotSupported):
        await wire.session.trigger_message("DiagnosticsStatusNotification")


async def test_get_variables_records_the_accepted_values(wire: Wire) -> None:
    timeout = VariableRef("MessageTimeout", "OCPPCommCtrlr", instance="Default")
    power = VariableRef("Power", "EVSE", evse_id=1, attribute_type="MaxSet")
    wire.answers["GetVariables"] = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "30",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "MessageTimeout", "instance": "Default"},
            },
            {
                "attributeStatus": "UnknownVariable",
                "attributeType": "MaxSet",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
            },
        ]
    }
    result = await wire.session.get_variables([timeout, power])
    assert wire.sent("GetVariables") == {
        "getVariableData": [
            {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "MessageTimeout", "instance": "Default"},
                "attributeType": "Actual",
            },
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
                "attributeType": "MaxSet",
            },
        ]
    }
    assert wire.csms.last("record_settings") == [(timeout, "30", None)]
    assert result.status == "Mixed"
    assert len(result.payload["getVariableResult"]) == 2


async def test_get_variables_needs_a_component(wire: Wire) -> None:
    with pytest.raises(InvalidCommand, match=r"Component\.HeartbeatInterval"):
        await wire.session.get_variables([VariableRef.parse("HeartbeatInterval")])


async def test_get_variables_without_refs_asks_for_a_base_report(wire: Wire) -> None:
    result = await wire.session.get_variables()
    assert result.status == "Accepted"
    assert wire.sent("GetBaseReport") == {"requestId": 1, "reportBase": "FullInventory"}
    await wire.session.get_base_report("ConfigurationInventory")
    assert wire.sent("GetBaseReport") == {"requestId": 2, "reportBase": "ConfigurationInventory"}


async def test_set_variables_records_what_was_applied(wire: Wire) -> None:
    interval = VariableRef("Interval", "HeartbeatCtrlr")
    offline = VariableRef("OfflineThreshold", "OCPPCommCtrlr")
    wire.answers["SetVariables"] = {
        "setVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "HeartbeatCtrlr"},
                "variable": {"name": "Interval"},
            },
            {
                "attributeStatus": "Rejected",
                "attributeType": "Actual",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "OfflineThreshold"},
            },
        ]
    }
    result = await wire.session.set_variables([(interval, "120"), (offline, "-1")])
    assert wire.sent("SetVariables")["setVariableData"][0] == {
        "attributeValue": "120",
        "component": {"name": "HeartbeatCtrlr"},
        "variable": {"name": "Interval"},
        "attributeType": "Actual",
    }
    assert result.status == "Mixed"
    assert result.payload == {
        "results": [
            {"key": "HeartbeatCtrlr.Interval", "status": "Accepted"},
            {"key": "OCPPCommCtrlr.OfflineThreshold", "status": "Rejected"},
        ]
    }
    assert wire.csms.last("record_settings") == [(interval, "120", None)]


async def test_set_variables_all_accepted_is_accepted(wire: Wire) -> None:
    wire.answers["SetVariables"] = {
        "setVariableResult": [
            {
                "attributeStatus": "Accepted",
                "component": {"name": "HeartbeatCtrlr"},
                "variable": {"name": "Interval"},
            }
        ]
    }
    result = await wire.session.set_variables(
        [(VariableRef.parse("HeartbeatCtrlr.Interval"), "60")]
    )
    assert result.status == "Accepted"


async def test_send_local_list(wire: Wire) -> None:
    entries = [
        LocalListEntry(
            IdToken("04A1"),
            Authorization(AuthorizationStatus.ACCEPTED, expires_at=NOW, group_id="G"),
        ),
        LocalListEntry(IdToken("04A2", "ISO15693"), None),
    ]
    await wire.session.send_local_list(3, entries, "Differential")
    assert wire.sent("SendLocalList") == {
        "versionNumber": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {
                "idToken": {"idToken": "04A1", "type": "ISO14443"},
                "idTokenInfo": {
                    "status": "Accepted",
                    "cacheExpiryDateTime": "2025-03-01T12:00:00.000Z",
                    "groupIdToken": {"idToken": "G", "type": "Central"},
                },
            },
            {"idToken": {"idToken": "04A2", "type": "ISO15693"}},
        ],
    }
    await wire.session.send_local_list(4, [])
    assert wire.sent("SendLocalList") == {"versionNumber": 4, "updateType": "Full"}


async def test_get_local_list_version(wire: Wire) -> None:
    wire.answers["GetLocalListVersion"] = {"versionNumber": 3}
    result = await wire.session.get_local_list_version()
    assert (result.status, result.payload) == ("Accepted", {"versionNumber": 3})


async def test_clear_cache_and_data_transfer(wire: Wire) -> None:
    assert (await wire.session.clear_cache()).status == "Accepted"
    await wire.session.data_transfer("acme", "ping", "{}")
    assert wire.sent("DataTransfer") == {"vendorId": "acme", "messageId": "ping", "data": "{}"}
    assert wire.session.version is OcppVersion.V201
