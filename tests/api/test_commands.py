"""Commands through the API to real OCPP 1.6 chargers: answers, CALLERRORs, timeouts, offline."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from ems.app import EmsServer
from tests.api.helpers import BrokenCharger, api_client, charger, register
from tests.conftest import ADMIN_TOKEN, make_settings, running

PROFILE = {
    "evse_id": 1,
    "profile": {
        "id": 7,
        "stack_level": 1,
        "purpose": "TxDefaultProfile",
        "schedule": {
            "unit": "A",
            "periods": [{"start_s": 0, "limit": 16}, {"start_s": 3600, "limit": 8}],
        },
    },
}


async def test_command_to_offline_charge_point_is_409(admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1")
    response = await admin.post("/charge-points/CP1/commands/reset", json={"kind": "Soft"})
    assert response.status_code == 409
    assert response.json() == {"detail": "charge point 'CP1' is not connected"}


async def test_reset_round_trip(server: EmsServer, admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post("/charge-points/CP1/commands/reset", json={"kind": "Hard"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "Accepted", "payload": {"status": "Accepted"}}


async def test_callerror_answer_is_502_with_its_code(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1", BrokenCharger) as cp:
        await cp.boot()
        response = await admin.post("/charge-points/CP1/commands/reset", json={"kind": "Soft"})
    assert response.status_code == 502
    answer = response.json()
    assert answer["code"] == "InternalError"
    assert answer["description"] == "reset relay did not respond"
    assert "InternalError" in answer["detail"] and "reset relay" in answer["detail"]


async def test_charge_point_that_never_answers_is_504(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, ocpp={"call_timeout_s": 1})
    async with running(settings) as server, api_client(server, ADMIN_TOKEN) as admin:
        await register(admin, "MUTE")
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/ocpp/MUTE",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ) as ws:
            response = await admin.post("/charge-points/MUTE/commands/reset", json={"kind": "Soft"})
            frame = json.loads(await asyncio.wait_for(ws.recv(), 1))
    assert frame[2:] == ["Reset", {"type": "Soft"}]
    assert response.status_code == 504
    assert "did not answer Reset within 1 s" in response.json()["detail"]


async def test_command_the_version_cannot_carry_is_422(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post(
            "/charge-points/CP1/commands/reset", json={"kind": "Soft", "evse_id": 1}
        )
    assert response.status_code == 422
    assert "1.6" in response.json()["detail"]


async def test_profile_that_breaks_the_rules_is_422_before_sending(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    body = json.loads(json.dumps(PROFILE))
    body["profile"]["schedule"]["periods"][0]["start_s"] = 60
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post("/charge-points/CP1/commands/charging-profile", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == "the first charging schedule period must start at 0"


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("reset", {"kind": "Warm"}, "body.kind"),
        ("reset", {}, "body.kind"),
        ("unlock", {"evse_id": 0}, "body.evse_id"),
        ("trigger", {"message": "Coffee"}, "body.message"),
        ("charging-profile", {"evse_id": 1}, "body.profile"),
        ("local-list", {"list_version": 1, "update_type": "Sometimes"}, "body.update_type"),
        ("remote-start", {"id_token": "A", "id_token_type": "Nope"}, "body.id_token_type"),
    ],
)
async def test_invalid_command_body_is_422_naming_the_field(
    admin: httpx.AsyncClient, command: str, body: dict[str, object], field: str
) -> None:
    await register(admin, "CP1")
    response = await admin.post(f"/charge-points/CP1/commands/{command}", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]


async def test_charging_profile_is_sent_and_logged(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post("/charge-points/CP1/commands/charging-profile", json=PROFILE)
        profiles = (await admin.get("/charge-points/CP1/charging-profiles")).json()
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "Accepted"
    [sent] = profiles
    assert (sent["profile_id"], sent["evse_id"], sent["status"]) == (7, 1, "Accepted")
    assert sent["purpose"] == "TxDefaultProfile"


async def test_configuration_read_is_kept_on_the_charge_point(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post(
            "/charge-points/CP1/commands/get-configuration",
            json={"keys": ["HeartbeatInterval", "NoSuchKey"]},
        )
        changed = await admin.post(
            "/charge-points/CP1/commands/change-configuration",
            json={"key": "MeterValueSampleInterval", "value": "30"},
        )
        detail = (await admin.get("/charge-points/CP1")).json()
    assert response.status_code == 200, response.text
    payload = response.json()["payload"]
    assert payload["configurationKey"] == [
        {"key": "HeartbeatInterval", "value": "300", "readonly": False}
    ]
    assert payload["unknownKey"] == ["NoSuchKey"]
    assert changed.json()["status"] == "Accepted"
    settings = {s["variable"]: s["value"] for s in detail["configuration"]}
    assert settings == {"HeartbeatInterval": "300", "MeterValueSampleInterval": "30"}


async def test_local_list_and_remote_start_are_accepted(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        local_list = await admin.post(
            "/charge-points/CP1/commands/local-list",
            json={
                "list_version": 3,
                "update_type": "Differential",
                "entries": [{"id_token": "TAG-A", "status": "Accepted"}, {"id_token": "TAG-OLD"}],
            },
        )
        start = await admin.post(
            "/charge-points/CP1/commands/remote-start", json={"id_token": "TAG-A", "evse_id": 1}
        )
    assert local_list.status_code == 200 and local_list.json()["status"] == "Accepted"
    assert start.status_code == 200 and start.json()["status"] == "Accepted"


async def test_command_the_charger_does_not_implement_is_502(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        response = await admin.post("/charge-points/CP1/commands/clear-cache", json={})
    assert response.status_code == 502
    assert response.json()["code"] == "NotImplemented"
