"""``/charge-points/{id}/commands/...``: version-neutral commands to a connected charge point.

Each route turns its body into the neutral arguments of :class:`ems.commands.ChargePointCommands`
and answers the charge point's reply as ``{"status": ..., "payload": {...}}``. Failures become
errors with a status that says whose fault it is (see :data:`COMMAND_ERRORS`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from ems.api.auth import EmsDep
from ems.api.charge_points import charge_point_state
from ems.api.schemas import (
    AvailabilityIn,
    BaseReportIn,
    CallErrorOut,
    ChangeConfigurationIn,
    ChargingProfileIn,
    ClearChargingProfileIn,
    CommandOut,
    CompositeScheduleIn,
    DataTransferIn,
    ErrorOut,
    GetConfigurationIn,
    GetVariablesIn,
    LocalListIn,
    RemoteStartIn,
    RemoteStopIn,
    ResetIn,
    SetChargingProfileIn,
    SetVariablesIn,
    TriggerIn,
    UnlockIn,
    ValidationErrorOut,
    VariableIn,
)
from ems.app import Ems
from ems.commands import ChargePointCommands, LocalListEntry, VariableRef
from ems.domain import (
    Authorization,
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
    CommandResult,
    IdToken,
)

log = logging.getLogger(__name__)

COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No charge point with this id"},
    409: {"model": ErrorOut, "description": "The charge point is not connected"},
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid body, or a command this charge point's OCPP version cannot carry",
    },
    502: {"model": CallErrorOut, "description": "The charge point answered with a CALLERROR"},
    504: {"model": ErrorOut, "description": "The charge point did not answer in time"},
}

router = APIRouter(
    prefix="/charge-points/{charge_point_id}/commands",
    tags=["commands"],
    responses=COMMAND_ERRORS,
)

Command = Callable[[ChargePointCommands], Awaitable[CommandResult]]


async def send(ems: Ems, charge_point_id: str, command: Command) -> CommandOut:
    """Send ``command`` to the charge point; CommandErrors go to the app's handlers."""
    charge_point_state(ems, charge_point_id)
    commands = ems.csms.commands(charge_point_id)
    try:
        result = await command(commands)
    except ValueError as error:
        log.info("%s: command refused: %s", charge_point_id, error)
        raise HTTPException(422, f"invalid command: {error}") from None
    return CommandOut(status=result.status, payload=result.payload)


def charging_profile(body: ChargingProfileIn) -> ChargingProfile:
    schedule = body.schedule
    return ChargingProfile(
        id=body.id,
        stack_level=body.stack_level,
        purpose=body.purpose,
        kind=body.kind,
        recurrency=body.recurrency,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        transaction_id=body.transaction_id,
        schedule=ChargingSchedule(
            unit=schedule.unit,
            periods=tuple(
                ChargingSchedulePeriod(p.start_s, p.limit, p.number_phases)
                for p in schedule.periods
            ),
            duration_s=schedule.duration_s,
            start_schedule=schedule.start_schedule,
            min_rate=schedule.min_rate,
        ),
    )


def variable_ref(body: VariableIn) -> VariableRef:
    return VariableRef(variable=body.variable, component=body.component, instance=body.instance)


@router.post("/remote-start", response_model=CommandOut, summary="Start a transaction")
async def remote_start(charge_point_id: str, body: RemoteStartIn, ems: EmsDep) -> CommandOut:
    token = IdToken(body.id_token, body.id_token_type)
    profile = charging_profile(body.charging_profile) if body.charging_profile else None
    return await send(
        ems,
        charge_point_id,
        lambda c: c.remote_start(token, body.evse_id, profile, body.remote_start_id),
    )


@router.post("/remote-stop", response_model=CommandOut, summary="Stop a transaction")
async def remote_stop(charge_point_id: str, body: RemoteStopIn, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.remote_stop(str(body.transaction_id)))


@router.post("/charging-profile", response_model=CommandOut, summary="Set a charging profile")
async def set_charging_profile(
    charge_point_id: str, body: SetChargingProfileIn, ems: EmsDep
) -> CommandOut:
    profile = charging_profile(body.profile)
    return await send(ems, charge_point_id, lambda c: c.set_charging_profile(body.evse_id, profile))


@router.post(
    "/clear-charging-profile", response_model=CommandOut, summary="Clear charging profiles"
)
async def clear_charging_profile(
    charge_point_id: str, body: ClearChargingProfileIn, ems: EmsDep
) -> CommandOut:
    return await send(
        ems,
        charge_point_id,
        lambda c: c.clear_charging_profile(
            body.profile_id, body.evse_id, body.purpose, body.stack_level
        ),
    )


@router.post("/composite-schedule", response_model=CommandOut, summary="Get the composite schedule")
async def composite_schedule(
    charge_point_id: str, body: CompositeScheduleIn, ems: EmsDep
) -> CommandOut:
    return await send(
        ems,
        charge_point_id,
        lambda c: c.get_composite_schedule(body.evse_id, body.duration_s, body.unit),
    )


@router.post("/availability", response_model=CommandOut, summary="Change availability")
async def availability(charge_point_id: str, body: AvailabilityIn, ems: EmsDep) -> CommandOut:
    return await send(
        ems,
        charge_point_id,
        lambda c: c.change_availability(body.evse_id, body.operative, body.connector_id),
    )


@router.post("/reset", response_model=CommandOut, summary="Reset the charge point")
async def reset(charge_point_id: str, body: ResetIn, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.reset(body.kind, body.evse_id))


@router.post("/unlock", response_model=CommandOut, summary="Unlock a connector")
async def unlock(charge_point_id: str, body: UnlockIn, ems: EmsDep) -> CommandOut:
    return await send(
        ems, charge_point_id, lambda c: c.unlock_connector(body.evse_id, body.connector_id)
    )


@router.post("/trigger", response_model=CommandOut, summary="Trigger a message")
async def trigger(charge_point_id: str, body: TriggerIn, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.trigger_message(body.message, body.evse_id))


@router.post(
    "/get-configuration",
    response_model=CommandOut,
    summary="Read configuration keys (1.6) or Component.Variable (2.0.1)",
)
async def get_configuration(
    charge_point_id: str, body: GetConfigurationIn, ems: EmsDep
) -> CommandOut:
    refs = [VariableRef.parse(key) for key in body.keys]
    return await send(ems, charge_point_id, lambda c: c.get_variables(refs))


@router.post(
    "/change-configuration", response_model=CommandOut, summary="Change one configuration key"
)
async def change_configuration(
    charge_point_id: str, body: ChangeConfigurationIn, ems: EmsDep
) -> CommandOut:
    values = [(VariableRef.parse(body.key), body.value)]
    return await send(ems, charge_point_id, lambda c: c.set_variables(values))


@router.post("/set-variables", response_model=CommandOut, summary="Set variables")
async def set_variables(charge_point_id: str, body: SetVariablesIn, ems: EmsDep) -> CommandOut:
    values = [(variable_ref(item), item.value) for item in body.values]
    return await send(ems, charge_point_id, lambda c: c.set_variables(values))


@router.post("/get-variables", response_model=CommandOut, summary="Get variables")
async def get_variables(charge_point_id: str, body: GetVariablesIn, ems: EmsDep) -> CommandOut:
    refs = [variable_ref(item) for item in body.variables]
    return await send(ems, charge_point_id, lambda c: c.get_variables(refs))


@router.post("/base-report", response_model=CommandOut, summary="Request a base report")
async def base_report(charge_point_id: str, body: BaseReportIn, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.get_base_report(body.report_base))


@router.post("/local-list", response_model=CommandOut, summary="Send the local auth list")
async def local_list(charge_point_id: str, body: LocalListIn, ems: EmsDep) -> CommandOut:
    entries = [
        LocalListEntry(
            IdToken(entry.id_token, entry.id_token_type),
            None
            if entry.status is None
            else Authorization(entry.status, entry.expires_at, entry.group_id),
        )
        for entry in body.entries
    ]
    return await send(
        ems,
        charge_point_id,
        lambda c: c.send_local_list(body.list_version, entries, body.update_type),
    )


@router.post("/local-list-version", response_model=CommandOut, summary="Get the local list version")
async def local_list_version(charge_point_id: str, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.get_local_list_version())


@router.post("/clear-cache", response_model=CommandOut, summary="Clear the authorization cache")
async def clear_cache(charge_point_id: str, ems: EmsDep) -> CommandOut:
    return await send(ems, charge_point_id, lambda c: c.clear_cache())


@router.post("/data-transfer", response_model=CommandOut, summary="Vendor-specific data")
async def data_transfer(charge_point_id: str, body: DataTransferIn, ems: EmsDep) -> CommandOut:
    return await send(
        ems,
        charge_point_id,
        lambda c: c.data_transfer(body.vendor_id, body.message_id, body.data),
    )
