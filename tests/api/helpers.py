"""Helpers of the REST API tests: API clients and real OCPP 1.6 charge points."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import httpx
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from ems.app import EmsServer
from tests.clients import connected


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def api_client(server: EmsServer, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}/api/v1", headers=headers, timeout=10
    )


async def register(admin: httpx.AsyncClient, charge_point_id: str, **fields: Any) -> None:
    body = {"id": charge_point_id, "security_profile": 0, **fields}
    response = await admin.post("/charge-points", json=body)
    assert response.status_code == 201, response.text


class Charger(V16ChargePoint):
    """A well-behaved OCPP 1.6 charge point: accepts what ems asks."""

    @on(Action.reset)
    async def on_reset(self, type: str) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> call_result.SetChargingProfile:
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.get_configuration)
    async def on_get_configuration(
        self, key: list[str] | None = None
    ) -> call_result.GetConfiguration:
        known = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}
        wanted = key or list(known)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "value": known[k], "readonly": False} for k in wanted if k in known
            ],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on(Action.change_configuration)
    async def on_change_configuration(
        self, key: str, value: str
    ) -> call_result.ChangeConfiguration:
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.send_local_list)
    async def on_send_local_list(self, **payload: Any) -> call_result.SendLocalList:
        return call_result.SendLocalList(status="Accepted")

    @on(Action.remote_start_transaction)
    async def on_remote_start(
        self, id_tag: str, **extra: Any
    ) -> call_result.RemoteStartTransaction:
        return call_result.RemoteStartTransaction(status="Accepted")

    async def boot(self) -> None:
        answer = await self.call(
            call.BootNotification(charge_point_model="Wallbox", charge_point_vendor="ACME")
        )
        assert answer.status == "Accepted"


class BrokenCharger(Charger):
    """Answers a reset with a CALLERROR, as a charge point with a fault would."""

    @on(Action.reset)
    async def on_reset(self, type: str) -> call_result.Reset:
        raise InternalError(description="reset relay did not respond")


def charger(
    server: EmsServer, charge_point_id: str, cls: type[Charger] | None = None
) -> contextlib.AbstractAsyncContextManager[Charger]:
    """A real OCPP 1.6 charge point connected to ``server`` (a :class:`Charger` by default)."""
    assert server.port is not None
    return connected(cls or Charger, server.port, charge_point_id, subprotocol="ocpp1.6")
