"""``ems.ocpp.bounds``: every rule on 1.6 and 2.0.1, on payloads the schemas accept.

Each refused payload is first shown to pass schema validation (the checker runs after it), then
refused with PropertyConstraintViolation and a cause that starts with the field's path.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from ocpp.exceptions import OCPPError

from ems.domain import OcppVersion
from ems.ocpp import bounds, schemas

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
STAMP = "2026-11-03T08:59:00Z"


def refusal(version: OcppVersion, action: str, payload: dict[str, Any]) -> str:
    """The cause of the refusal of a schema-valid payload."""
    schemas.validate(version, action, payload, response=False)
    with pytest.raises(OCPPError) as caught:
        bounds.check(version, action, payload, NOW)
    assert caught.value.code == "PropertyConstraintViolation"
    cause = caught.value.details["cause"]
    assert isinstance(cause, str)
    return cause


def passes(version: OcppVersion, action: str, payload: dict[str, Any]) -> None:
    schemas.validate(version, action, payload, response=False)
    bounds.check(version, action, payload, NOW)


def status_16(**fields: Any) -> dict[str, Any]:
    return {"connectorId": 1, "errorCode": "NoError", "status": "Available", **fields}


def meter_values_16(*values: str, **fields: Any) -> dict[str, Any]:
    sampled = [{"value": value} for value in values]
    meter_value = [{"timestamp": STAMP, "sampledValue": sampled}]
    return {"connectorId": 1, "meterValue": meter_value, **fields}


def start_16(**fields: Any) -> dict[str, Any]:
    return {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": STAMP, **fields}


def sampled_201(value: float, multiplier: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"value": value, "measurand": "Energy.Active.Import.Register"}
    if multiplier is not None:
        item["unitOfMeasure"] = {"unit": "Wh", "multiplier": multiplier}
    return item


def meter_values_201(*sampled: dict[str, Any], stamp: str = STAMP) -> dict[str, Any]:
    return {"evseId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": list(sampled)}]}


def event_201(**fields: Any) -> dict[str, Any]:
    return {
        "eventType": "Updated",
        "timestamp": STAMP,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-1"},
        "evse": {"id": 1, "connectorId": 1},
        **fields,
    }


# ---- integers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("connector_id", [2**31, 2**64, -(2**31) - 1])
def test_16_identifier_beyond_int32_is_refused(connector_id: int) -> None:
    cause = refusal(V16, "StatusNotification", status_16(connectorId=connector_id))
    assert cause.startswith("connectorId: ") and "out of range" in cause


def test_16_transaction_id_of_2_to_the_64_is_refused() -> None:
    payload = meter_values_16("1", transactionId=2**64)
    assert refusal(V16, "MeterValues", payload).startswith("transactionId: 18446744073709551616")


def test_16_int32_extremes_pass() -> None:
    passes(V16, "StatusNotification", status_16(connectorId=2**31 - 1))
    passes(V16, "StatusNotification", status_16(connectorId=-(2**31)))


def test_16_energy_readings_are_doubles_and_may_reach_2_to_the_53() -> None:
    passes(V16, "StartTransaction", start_16(meterStart=2**40))
    passes(V16, "StartTransaction", start_16(meterStart=2**53))
    stop = {"transactionId": 1, "meterStop": 2**53, "timestamp": STAMP}
    passes(V16, "StopTransaction", stop)
    assert refusal(V16, "StartTransaction", start_16(meterStart=2**53 + 1)).startswith(
        "meterStart: "
    )
    assert refusal(V16, "StopTransaction", {**stop, "meterStop": 2**64}).startswith("meterStop: ")


def test_16_start_transaction_connector_and_reservation_stay_int32() -> None:
    assert refusal(V16, "StartTransaction", start_16(connectorId=2**40)).startswith("connectorId")
    cause = refusal(V16, "StartTransaction", start_16(reservationId=2**31))
    assert cause.startswith("reservationId: ")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"evseId": 2**31, "connectorId": 1}, "evseId"),
        ({"evseId": 1, "connectorId": 2**64}, "connectorId"),
        ({"evseId": 1e20, "connectorId": 1}, "evseId"),  # draft-06 counts 1e20 as an integer
    ],
)
def test_201_identifier_beyond_int32_is_refused(payload: dict[str, Any], field: str) -> None:
    full = {"timestamp": STAMP, "connectorStatus": "Available", **payload}
    assert refusal(V201, "StatusNotification", full).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"seqNo": 2**32}, "seqNo"),
        ({"evse": {"id": 2**40, "connectorId": 1}}, "evse.id"),
        ({"evse": {"id": 1, "connectorId": 2**31}}, "evse.connectorId"),
        (
            {"transactionInfo": {"transactionId": "t", "remoteStartId": -(2**31) - 1}},
            "remoteStartId",
        ),
        ({"numberOfPhasesUsed": 2**63}, "numberOfPhasesUsed"),
    ],
)
def test_201_transaction_event_integers_beyond_int32_are_refused(
    fields: dict[str, Any], field: str
) -> None:
    cause = refusal(V201, "TransactionEvent", event_201(**fields))
    assert cause.split(":")[0].endswith(field)


def test_201_int32_extremes_pass() -> None:
    passes(V201, "TransactionEvent", event_201(seqNo=2**31 - 1, evse={"id": 2**31 - 1}))


# ---- floats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("NaN", "NaN"),
        ("nan", "NaN"),
        ("inf", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e400", "Infinity"),
    ],
)
def test_16_sampled_value_that_reads_as_a_non_finite_number_is_refused(
    text: str, shown: str
) -> None:
    cause = refusal(V16, "MeterValues", meter_values_16("1", "2", text))
    assert cause == f"meterValue[0].sampledValue[2].value: {shown} is not a number ems can store"


def test_16_stop_transaction_data_is_checked_like_meter_values() -> None:
    data = [{"timestamp": STAMP, "sampledValue": [{"value": "12"}, {"value": "NaN"}]}]
    stop = {"transactionId": 1, "meterStop": 10, "timestamp": STAMP, "transactionData": data}
    cause = refusal(V16, "StopTransaction", stop)
    assert cause.startswith("transactionData[0].sampledValue[1].value: NaN")


@pytest.mark.parametrize("text", ["123.4", "-5", "1e300", "0", "3F5A0C-signed-meter-value", ""])
def test_16_finite_and_non_numeric_sampled_values_pass(text: str) -> None:
    passes(V16, "MeterValues", meter_values_16(text))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (10**400, "an integer of 401 digits"),
    ],
)
def test_201_non_finite_sampled_value_is_refused(value: float, shown: str) -> None:
    payload = meter_values_201(sampled_201(1.0), sampled_201(value))
    cause = refusal(V201, "MeterValues", payload)
    assert cause == f"meterValue[0].sampledValue[1].value: {shown} is not a number ems can store"


def test_201_transaction_event_meter_values_are_checked() -> None:
    meter_value = [{"timestamp": STAMP, "sampledValue": [sampled_201(float("nan"))]}]
    cause = refusal(V201, "TransactionEvent", event_201(meterValue=meter_value))
    assert cause.startswith("meterValue[0].sampledValue[0].value: NaN")


def test_201_huge_finite_numbers_pass() -> None:
    passes(V201, "MeterValues", meter_values_201(sampled_201(1e300), sampled_201(-1e300)))
    passes(V201, "MeterValues", meter_values_201(sampled_201(2**63), sampled_201(5e-324)))


def test_201_sampled_value_must_stay_finite_once_scaled_by_its_multiplier() -> None:
    passes(V201, "MeterValues", meter_values_201(sampled_201(11.0, 3), sampled_201(1.0, -400)))
    cause = refusal(V201, "MeterValues", meter_values_201(sampled_201(1e300, 10)))
    assert cause.startswith("meterValue[0].sampledValue[0].unitOfMeasure.multiplier: ")
    cause = refusal(V201, "MeterValues", meter_values_201(sampled_201(1.0, 2**31 - 1)))
    assert "10**2147483647" in cause


def test_201_charging_needs_numbers_are_checked() -> None:
    needs = {"requestedEnergyTransfer": "AC_three_phase"}
    needs["acChargingParameters"] = {  # type: ignore[assignment]
        "energyAmount": 2**31,
        "evMinCurrent": 6,
        "evMaxCurrent": 32,
        "evMaxVoltage": 400,
    }
    cause = refusal(V201, "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs})
    assert cause.startswith("chargingNeeds.acChargingParameters.energyAmount: ")


def test_21_sampled_values_are_checked_too() -> None:
    cause = refusal(V21, "MeterValues", meter_values_201(sampled_201(float("inf"))))
    assert cause.startswith("meterValue[0].sampledValue[0].value: Infinity")


# ---- strings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("A\x00B", "control character U+0000 at position 1"),
        ("\x1b[31m", "control character U+001B at position 0"),
        ("AB\x7f", "control character U+007F at position 2"),
        ("A\ud800", "lone surrogate U+D800 at position 1"),
        ("\udc00", "lone surrogate U+DC00 at position 0"),
    ],
)
def test_16_bad_characters_in_a_string_are_refused(text: str, what: str) -> None:
    assert refusal(V16, "Authorize", {"idTag": text}) == f"idTag: {what} is not allowed"


def test_16_nul_in_a_sampled_value_is_refused_before_it_is_read_as_a_number() -> None:
    cause = refusal(V16, "MeterValues", meter_values_16("12\x00"))
    assert cause.startswith("meterValue[0].sampledValue[0].value: control character U+0000")


def test_16_nul_in_status_info_and_boot_fields_is_refused() -> None:
    assert refusal(V16, "StatusNotification", status_16(info="a\x00")).startswith("info: ")
    boot = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1\x00"}
    assert refusal(V16, "BootNotification", boot).startswith("firmwareVersion: ")


@pytest.mark.parametrize("text", ["line 1\r\nline 2\tend", "Zürich ✓ 🚗", "\u00a0\u2028", ""])
def test_free_text_with_tab_newlines_and_non_ascii_passes(text: str) -> None:
    passes(V16, "DataTransfer", {"vendorId": "V", "data": text})
    passes(V201, "DataTransfer", {"vendorId": "V", "data": text})


def test_201_strings_are_checked_at_any_depth() -> None:
    info = {"transactionId": "tx\x00"}
    assert refusal(V201, "TransactionEvent", event_201(transactionInfo=info)).startswith(
        "transactionInfo.transactionId: control character U+0000"
    )
    token = {"idToken": "\ud83d", "type": "ISO14443"}
    cause = refusal(V201, "TransactionEvent", event_201(idToken=token))
    assert cause.startswith("idToken.idToken: lone surrogate U+D83D")


def test_201_free_form_data_and_custom_data_are_walked() -> None:
    data = {"a": [1, {"b": "\x00"}]}
    assert refusal(V201, "DataTransfer", {"vendorId": "V", "data": data}).startswith(
        "data.a[1].b: "
    )
    cause = refusal(V201, "DataTransfer", {"vendorId": "V", "data": [float("nan")]})
    assert cause == "data[0]: NaN is not a number ems can store"
    custom = {"vendorId": "V", "extra": {"reading": float("inf")}}
    cause = refusal(V201, "Heartbeat", {"customData": custom})
    assert cause.startswith("customData.extra.reading: Infinity")
    cause = refusal(V201, "Heartbeat", {"customData": {"vendorId": "V", "k\x00": 1}})
    assert cause.startswith("customData: a key holds control character U+0000")
    cause = refusal(V201, "Heartbeat", {"customData": {"vendorId": "V\x00"}})
    assert cause.startswith("customData.vendorId: ")


def test_201_free_form_integers_only_need_to_be_finite_doubles() -> None:
    passes(V201, "DataTransfer", {"vendorId": "V", "data": {"serial": 2**64, "ok": True}})
    cause = refusal(V201, "DataTransfer", {"vendorId": "V", "data": {"n": 10**400}})
    assert cause == "data.n: an integer of 401 digits is not a number ems can store"


# ---- date-times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "what"),
    [
        ("9999-12-31T23:59:59-05:00", "falls outside years 1..9999 in UTC"),
        ("0001-01-01T00:00:00+01:00", "falls outside years 1..9999 in UTC"),
        ("0000-01-01T00:00:00Z", "is not a date-time ems can read"),
        ("2026-06-30T23:59:60Z", "is not a date-time ems can read"),
        ("2026-01-01t00:00:00z", "is not a date-time ems can read"),
        ("2036-01-01T00:00:00Z", "lies more than 366 days after now (2026-11-03T09:00:00.000Z)"),
    ],
)
def test_16_timestamp_that_cannot_be_stored_or_is_far_ahead_is_refused(
    stamp: str, what: str
) -> None:
    cause = refusal(V16, "StatusNotification", status_16(timestamp=stamp))
    assert cause == f"timestamp: {stamp!r} {what}"


def test_16_meter_value_timestamp_is_checked() -> None:
    payload = meter_values_16("1")
    payload["meterValue"][0]["timestamp"] = "9999-12-31T23:59:59-05:00"
    assert refusal(V16, "MeterValues", payload).startswith("meterValue[0].timestamp: ")


def test_timestamps_in_the_past_and_up_to_a_year_ahead_pass() -> None:
    for stamp in ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00"]:
        passes(V16, "StatusNotification", status_16(timestamp=stamp))
    ahead = (NOW + bounds.MAX_FUTURE).isoformat()
    passes(V16, "StatusNotification", status_16(timestamp=ahead))
    just_beyond = (NOW + bounds.MAX_FUTURE + timedelta(seconds=1)).isoformat()
    assert refusal(V16, "StatusNotification", status_16(timestamp=just_beyond)).startswith(
        "timestamp: "
    )


@pytest.mark.parametrize(
    ("action", "payload", "field"),
    [
        ("TransactionEvent", event_201(timestamp="9999-12-31T23:59:59-05:00"), "timestamp"),
        (
            "MeterValues",
            meter_values_201(sampled_201(1.0), stamp="2099-01-01T00:00:00Z"),
            "meterValue[0].timestamp",
        ),
        (
            "NotifyEVChargingNeeds",
            {
                "evseId": 1,
                "chargingNeeds": {
                    "requestedEnergyTransfer": "DC",
                    "departureTime": "2099-01-01T00:00:00Z",
                },
            },
            "chargingNeeds.departureTime",
        ),
        (
            "NotifyEvent",
            {"generatedAt": "0001-01-01T00:00:00+01:00", "seqNo": 0, "eventData": [
                {"eventId": 1, "timestamp": STAMP, "trigger": "Alerting", "actualValue": "x",
                 "eventNotificationType": "HardWiredNotification",
                 "component": {"name": "C"}, "variable": {"name": "V"}}
            ]},
            "generatedAt",
        ),
    ],
)  # fmt: skip
def test_201_date_time_fields_are_checked(action: str, payload: dict[str, Any], field: str) -> None:
    assert refusal(V201, action, payload).startswith(f"{field}: ")


# ---- the checker itself -----------------------------------------------------------------------


def test_valid_payloads_pass_and_are_left_untouched() -> None:
    meter_value = meter_values_201(sampled_201(1.0, 3), sampled_201(2.0))["meterValue"]
    for version, action, payload in [
        (V16, "Heartbeat", {}),
        (V16, "MeterValues", meter_values_16("1", "2.5", "abc", transactionId=7)),
        (V201, "Heartbeat", {}),
        (V201, "TransactionEvent", event_201(meterValue=meter_value)),
    ]:
        before = copy.deepcopy(payload)
        passes(version, action, payload)
        assert payload == before


def test_an_action_without_a_schema_is_walked_as_free_form() -> None:
    bounds.check(V16, "NoSuchAction", {"a": [1, "x", 2**64]}, NOW)
    with pytest.raises(OCPPError) as caught:
        bounds.check(V16, "NoSuchAction", {"a": [1, "x\x00"]}, NOW)
    assert caught.value.details == {
        "cause": "a[1]: control character U+0000 at position 1 is not allowed"
    }


@pytest.mark.parametrize(("version", "folder"), [(V16, "v16"), (V201, "v201"), (V21, "v21")])
def test_every_request_schema_compiles_into_a_checker(version: OcppVersion, folder: str) -> None:
    names = [
        entry.name.removesuffix(".json")
        for entry in (resources.files("ocpp") / folder / "schemas").iterdir()
        if entry.name.endswith("Request.json" if version is not V16 else ".json")
        and not entry.name.endswith("Response.json")
    ]
    assert len(names) > 30
    for name in names:
        action = name if version is V16 else name.removesuffix("Request")
        schema = schemas.load(version, action, response=False)
        assert schema is not None, name
        bounds.check(version, action, {}, NOW)  # an empty payload has nothing to refuse
        json.dumps(schema)
