"""Charge point registration, validation, live state and history through the API."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from ocpp.v16 import call

from ems.app import EmsServer
from tests.api.helpers import charger, register

PASSWORD = "correct-horse-battery"


async def test_registered_charge_point_is_listed_and_shown(admin: httpx.AsyncClient) -> None:
    created = await admin.post(
        "/charge-points",
        json={"id": "CP1", "security_profile": 1, "password": PASSWORD, "registration": "Pending"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith("/api/v1/charge-points/CP1")
    assert PASSWORD not in created.text
    listing = (await admin.get("/charge-points")).json()
    assert [cp["id"] for cp in listing] == ["CP1"]
    cp = listing[0]
    assert cp["registration"] == "Pending" and cp["security_profile"] == 1
    assert cp["has_password"] is True and cp["connected"] is False
    detail = (await admin.get("/charge-points/CP1")).json()
    assert detail["boot"] is None and detail["configuration"] == []
    assert detail["open_transactions"] == [] and detail["created_at"] is not None


async def test_registering_an_existing_id_is_409(admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1")
    response = await admin.post("/charge-points", json={"id": "CP1", "security_profile": 0})
    assert response.status_code == 409
    assert "CP1" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "CP1", "security_profile": 1, "password": "tiny-secret"}, "body.password"),
        ({"id": "CP1", "security_profile": 1}, "password"),
        ({"id": "CP1", "security_profile": 2}, "password"),
        ({"id": "CP1", "security_profile": 4}, "body.security_profile"),
        ({"id": "has space", "security_profile": 0}, "body.id"),
        ({"id": "CP1", "security_profile": 0, "registration": "Maybe"}, "body.registration"),
        ({"id": "CP1", "security_profile": 0, "colour": "red"}, "body.colour"),
        ({"security_profile": 0}, "body.id"),
    ],
)
async def test_invalid_registration_is_422_naming_the_field(
    admin: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await admin.post("/charge-points", json=body)
    assert response.status_code == 422
    answer = response.json()
    assert field in answer["detail"]
    assert answer["errors"] and {"loc", "msg", "type"} == set(answer["errors"][0])
    assert "tiny-secret" not in response.text  # a rejected password is not echoed


async def test_malformed_json_is_422(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/charge-points", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("invalid request: body")


async def test_patch_changes_only_the_given_fields(admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1", registration="Pending")
    response = await admin.patch("/charge-points/CP1", json={"registration": "Accepted"})
    assert response.status_code == 200, response.text
    assert response.json()["registration"] == "Accepted"
    assert response.json()["security_profile"] == 0


async def test_patch_to_basic_auth_needs_a_password(admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1")
    refused = await admin.patch("/charge-points/CP1", json={"security_profile": 1})
    assert refused.status_code == 422
    assert "password" in refused.json()["detail"]
    accepted = await admin.patch(
        "/charge-points/CP1", json={"security_profile": 1, "password": PASSWORD}
    )
    assert accepted.status_code == 200
    assert accepted.json()["has_password"] is True


async def test_deleted_charge_point_is_gone(admin: httpx.AsyncClient) -> None:
    await register(admin, "CP1")
    assert (await admin.delete("/charge-points/CP1")).status_code == 204
    assert (await admin.get("/charge-points/CP1")).status_code == 404
    assert (await admin.get("/charge-points")).json() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/charge-points/NOPE"),
        ("PATCH", "/charge-points/NOPE"),
        ("DELETE", "/charge-points/NOPE"),
        ("GET", "/charge-points/NOPE/status-history"),
        ("GET", "/charge-points/NOPE/messages"),
        ("GET", "/charge-points/NOPE/charging-profiles"),
        ("GET", "/charge-points/NOPE/events"),
        ("POST", "/charge-points/NOPE/commands/clear-cache"),
    ],
)
async def test_unknown_charge_point_is_404_naming_it(
    admin: httpx.AsyncClient, method: str, path: str
) -> None:
    body: dict[str, object] | None = {} if method in ("PATCH", "POST") else None
    response = await admin.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json() == {"detail": "no charge point with id 'NOPE'"}


async def test_connected_charge_point_shows_live_state_and_history(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        await cp.call(
            call.StatusNotification(
                connector_id=1, error_code="GroundFailure", status="Faulted", info="RCD tripped"
            )
        )
        await cp.call(call.FirmwareStatusNotification(status="Downloading"))
        listing = (await admin.get("/charge-points")).json()
        detail = (await admin.get("/charge-points/CP1")).json()
        history = (await admin.get("/charge-points/CP1/status-history")).json()
        frames = (await admin.get("/charge-points/CP1/messages", params={"limit": 2})).json()
        older = (
            await admin.get("/charge-points/CP1/messages", params={"before_id": frames[-1]["id"]})
        ).json()
        events = (
            await admin.get("/charge-points/CP1/events", params={"kind": "firmware_status"})
        ).json()
        none = (await admin.get("/charge-points/CP1/events", params={"kind": "security"})).json()
    assert listing[0]["connected"] is True and listing[0]["ocpp_version"] == "ocpp1.6"
    assert listing[0]["vendor"] == "ACME" and listing[0]["model"] == "Wallbox"
    assert listing[0]["last_seen_at"] is not None
    assert [c["status"] for c in listing[0]["connectors"]] == ["Faulted"]
    assert detail["boot"]["vendor"] == "ACME"
    assert detail["connectors"][0]["error_code"] == "GroundFailure"
    assert detail["connectors"][0]["info"] == "RCD tripped"
    assert [h["status"] for h in history] == ["Faulted", "Available"]
    assert len(frames) == 2 and frames[0]["id"] > frames[1]["id"]
    assert frames[0]["direction"] == "out" and frames[1]["direction"] == "in"
    assert "FirmwareStatusNotification" in frames[1]["message"]
    assert older and all(f["id"] < frames[-1]["id"] for f in older)
    assert [e["payload"] for e in events] == [{"status": "Downloading"}]
    assert none == []


async def test_disconnected_charge_point_is_listed_offline(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
    for _ in range(100):
        if not (await admin.get("/charge-points/CP1")).json()["connected"]:
            break
        await asyncio.sleep(0.02)
    detail = (await admin.get("/charge-points/CP1")).json()
    assert detail["connected"] is False
    assert detail["vendor"] == "ACME"


async def test_deleting_a_connected_charge_point_closes_its_connection(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        assert (await admin.delete("/charge-points/CP1")).status_code == 204
        await asyncio.wait_for(cp._connection.wait_closed(), 5)
    assert "CP1" not in server.ems.csms.sessions


async def test_concurrent_registrations_of_one_id_give_one_201_and_one_409(
    admin: httpx.AsyncClient,
) -> None:
    body = {"id": "CP1", "security_profile": 1, "password": PASSWORD}
    first, second = await asyncio.gather(
        admin.post("/charge-points", json=body), admin.post("/charge-points", json=body)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
