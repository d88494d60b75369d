"""Chargers with a local authorization list and cache (1.6 and 2.0.1), API clients, waiting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from ems.app import EmsServer
from tests.clients import connected
from tests.conftest import ADMIN_TOKEN

T0 = datetime(2026, 11, 4, 7, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def api(server: EmsServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )


async def create_tokens(client: httpx.AsyncClient, *tokens: dict[str, Any]) -> None:
    for token in tokens:
        response = await client.post("/id-tokens", json=token)
        assert response.status_code == 201, response.text


class ListHolder:
    """What a charger keeps: its local list (id -> info), version, cache clears, messages."""

    def init_list(self, enabled: bool, per_message: int | None) -> None:
        self.list_enabled = enabled
        self.per_message = per_message
        self.local_list: dict[str, dict[str, Any]] = {}
        self.list_version = 0
        self.updates: list[tuple[str, int, list[str]]] = []  # (type, version, ids)
        self.answers: list[str] = []  # next SendLocalList answers, then Accepted
        self.cache_clears = 0
        self.config_reads = 0
        self.changed = asyncio.Event()

    async def until(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Wait until ``condition()`` holds after what ems sends (syncs run in the background);
        the timeout only guards against a hang (a busy machine is slow, not wrong)."""
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def apply(self, kind: str, version: int, items: list[tuple[str, dict[str, Any] | None]]) -> str:
        self.updates.append((kind, version, [key for key, _ in items]))
        self.changed.set()
        if self.answers:
            return self.answers.pop(0)
        if kind == "Full":
            self.local_list = {}
        for key, info in items:
            if info is None:
                self.local_list.pop(key, None)
            else:
                self.local_list[key] = info
        self.list_version = version
        return "Accepted"


class Charger16(V16ChargePoint, ListHolder):
    """A 1.6 charge point with a local list (``LocalAuthListEnabled``) and a cache."""

    def __init__(
        self, *args: Any, list_enabled: bool = True, per_message: int | None = 50, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.init_list(list_enabled, per_message)

    async def boot(self) -> None:
        answer = await self.call(
            call16.BootNotification(charge_point_model="M1", charge_point_vendor="ACME")
        )
        assert answer.status == "Accepted"

    @on(Action16.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        self.config_reads += 1
        known = {
            "LocalAuthListEnabled": "true" if self.list_enabled else "false",
            "LocalAuthListMaxLength": "1000",
        }
        if self.per_message is not None:
            known["SendLocalListMaxLength"] = str(self.per_message)
        wanted = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[
                {"key": k, "value": known[k], "readonly": True} for k in wanted if k in known
            ],
            unknown_key=[k for k in wanted if k not in known] or None,
        )

    @on(Action16.get_local_list_version)
    async def on_get_local_list_version(self) -> Any:
        return result16.GetLocalListVersion(list_version=self.list_version)

    @on(Action16.send_local_list)
    async def on_send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: Any = None
    ) -> Any:
        items = [
            (entry["id_tag"], entry.get("id_tag_info"))
            for entry in local_authorization_list or []
        ]
        return result16.SendLocalList(status=self.apply(update_type, list_version, items))

    @on(Action16.clear_cache)
    async def on_clear_cache(self) -> Any:
        self.cache_clears += 1
        self.changed.set()
        return result16.ClearCache(status="Accepted")

    @on(Action16.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        return result16.ChangeConfiguration(status="Accepted")


class Station201(V201ChargePoint, ListHolder):
    """A 2.0.1 station with ``LocalAuthListCtrlr`` enabled and an authorization cache."""

    def __init__(
        self, *args: Any, list_enabled: bool = True, per_message: int | None = 50, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.init_list(list_enabled, per_message)

    async def boot(self) -> None:
        answer = await self.call(
            call201.BootNotification(
                charging_station={"model": "M2", "vendor_name": "ACME"}, reason="PowerUp"
            )
        )
        assert answer.status == "Accepted"

    @on(Action201.get_variables)
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]]) -> Any:
        values = {
            ("LocalAuthListCtrlr", "Enabled"): "true" if self.list_enabled else "false",
            ("LocalAuthListCtrlr", "ItemsPerMessage"): str(self.per_message or 100),
        }
        results = []
        for item in get_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            found = key in values
            results.append(
                {
                    "attribute_status": "Accepted" if found else "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                    **({"attribute_value": values[key]} if found else {}),
                }
            )
        return result201.GetVariables(get_variable_result=results)

    @on(Action201.get_local_list_version)
    async def on_get_local_list_version(self) -> Any:
        return result201.GetLocalListVersion(version_number=self.list_version)

    @on(Action201.send_local_list)
    async def on_send_local_list(
        self, version_number: int, update_type: str, local_authorization_list: Any = None
    ) -> Any:
        items = [
            (entry["id_token"]["id_token"], entry.get("id_token_info"))
            for entry in local_authorization_list or []
        ]
        return result201.SendLocalList(status=self.apply(update_type, version_number, items))

    @on(Action201.clear_cache)
    async def on_clear_cache(self) -> Any:
        self.cache_clears += 1
        self.changed.set()
        return result201.ClearCache(status="Accepted")


@contextlib.asynccontextmanager
async def charger16(server: EmsServer, charge_point_id: str, **kw: Any) -> AsyncIterator[Charger16]:
    assert server.port is not None

    def make(cp_id: str, ws: Any) -> Charger16:
        return Charger16(cp_id, ws, **kw)

    async with connected(make, server.port, charge_point_id, subprotocol="ocpp1.6") as cp:  # type: ignore[arg-type]
        yield cp


@contextlib.asynccontextmanager
async def station201(
    server: EmsServer, charge_point_id: str, **kw: Any
) -> AsyncIterator[Station201]:
    assert server.port is not None

    def make(cp_id: str, ws: Any) -> Station201:
        return Station201(cp_id, ws, **kw)

    async with connected(make, server.port, charge_point_id, subprotocol="ocpp2.0.1") as cs:  # type: ignore[arg-type]
        yield cs
