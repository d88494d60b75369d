"""``ems.ocpp.schemas``: the CALLERROR code of a schema violation, in each version's spelling."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.exceptions import OCPPError

from ems.domain import OcppVersion
from ems.ocpp import schemas

STAMP = "2026-11-03T08:59:00Z"


def code_of(version: OcppVersion, action: str, payload: dict[str, Any]) -> str:
    with pytest.raises(OCPPError) as caught:
        schemas.validate(version, action, payload, response=False)
    return caught.value.code


def test_16_too_few_items_is_an_occurence_constraint_violation_in_16_spelling() -> None:
    payload = {"connectorId": 1, "meterValue": []}
    assert code_of(OcppVersion.V16, "MeterValues", payload) == "OccurenceConstraintViolation"
    empty = {"connectorId": 1, "meterValue": [{"timestamp": STAMP, "sampledValue": []}]}
    assert code_of(OcppVersion.V16, "MeterValues", empty) == "OccurenceConstraintViolation"


def test_201_too_few_items_is_an_occurrence_constraint_violation() -> None:
    payload = {"evseId": 1, "meterValue": []}
    assert code_of(OcppVersion.V201, "MeterValues", payload) == "OccurrenceConstraintViolation"


def test_16_missing_field_stays_a_protocol_error_and_201_an_occurrence_violation() -> None:
    assert code_of(OcppVersion.V16, "MeterValues", {"connectorId": 1}) == "ProtocolError"
    assert code_of(OcppVersion.V201, "MeterValues", {"evseId": 1}) == (
        "OccurrenceConstraintViolation"
    )
