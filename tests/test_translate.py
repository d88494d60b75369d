"""Charging profiles leave ems in the form each OCPP version's schema accepts, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ems.domain import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    InvalidCommand,
    OcppVersion,
)
from ems.ocpp import schemas
from ems.ocpp.translate import check_profile
from ems.ocpp.v16 import profile_16
from ems.ocpp.v201 import charging_profile_201


def profile(**changes: object) -> ChargingProfile:
    fields: dict[str, object] = {
        "id": 7,
        "stack_level": 2,
        "purpose": ChargingProfilePurpose.TX,
        "transaction_id": "42",
        "valid_to": datetime(2026, 11, 24, 18, 0, tzinfo=UTC),
        "schedule": ChargingSchedule(
            unit=ChargingRateUnit.A,
            periods=(ChargingSchedulePeriod(0, 16.04, 3), ChargingSchedulePeriod(900, 6.0, 1)),
            duration_s=3600,
            min_rate=6.0,
        ),
    }
    fields.update(changes)
    return ChargingProfile(**fields)  # type: ignore[arg-type]


def test_16_profile_has_16_names_and_validates() -> None:
    payload = profile_16(profile())
    schemas.validate(
        OcppVersion.V16,
        "SetChargingProfile",
        {"connectorId": 1, "csChargingProfiles": payload},
        response=False,
    )
    assert payload["chargingProfileId"] == 7 and payload["transactionId"] == 42
    assert payload["chargingSchedule"]["chargingSchedulePeriod"][0] == {
        "startPeriod": 0,
        "limit": 16.0,
        "numberPhases": 3,
    }
    assert payload["validTo"] == "2026-11-24T18:00:00.000Z"


def test_201_profile_has_a_schedule_list_and_validates() -> None:
    payload = charging_profile_201(profile(transaction_id="tx-a"))
    schemas.validate(
        OcppVersion.V201,
        "SetChargingProfile",
        {"evseId": 1, "chargingProfile": payload},
        response=False,
    )
    assert payload["id"] == 7 and payload["transactionId"] == "tx-a"
    assert payload["chargingSchedule"][0]["id"] == 1
    assert payload["chargingSchedule"][0]["minChargingRate"] == 6.0


def test_16_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(InvalidCommand, match="integers"):
        profile_16(profile(transaction_id="tx-a"))
    phase = ChargingSchedule(
        ChargingRateUnit.A, (ChargingSchedulePeriod(0, 16, 1, phase_to_use=2),)
    )
    with pytest.raises(InvalidCommand, match="phase"):
        profile_16(profile(schedule=phase))


@pytest.mark.parametrize(
    ("evse_id", "changes", "message"),
    [
        (1, {"schedule": ChargingSchedule(ChargingRateUnit.W, ())}, "at least one period"),
        (
            1,
            {"schedule": ChargingSchedule(ChargingRateUnit.W, (ChargingSchedulePeriod(60, 1),))},
            "start at 0",
        ),
        (
            1,
            {
                "schedule": ChargingSchedule(
                    ChargingRateUnit.W,
                    (ChargingSchedulePeriod(0, 1), ChargingSchedulePeriod(0, 2)),
                )
            },
            "increasing",
        ),
        (0, {}, "not evse 0"),
        (1, {"purpose": ChargingProfilePurpose.CHARGE_POINT_MAX, "transaction_id": None}, "evse 0"),
        (1, {"purpose": ChargingProfilePurpose.TX_DEFAULT}, "only a TxProfile"),
        (1, {"kind": ChargingProfileKind.RECURRING}, "recurrency"),
        (1, {"stack_level": -1}, "stack_level"),
    ],
)
def test_profiles_breaking_the_spec_are_refused_before_sending(
    evse_id: int, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        check_profile(evse_id, profile(**changes))
