"""Credentials sent through the API reach the charger, but neither the frame log nor the stored
configuration: ChangeConfiguration AuthorizationKey (1.6), SetVariables BasicAuthPassword (2.0.1).

The chargers here also echo the secret back when asked (as some firmware does), and every table
holding frames or configuration is searched as text afterwards.
"""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from sqlalchemy import create_engine, text

from tests.api.helpers import Charger, api_client, charger, register
from tests.clients import connected
from tests.conftest import ADMIN_TOKEN, make_settings, running

SECRET = "f00dfeedcafe-s3cr3t-0042"


class Recording:
    """Keeps every raw frame the charger received."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[str] = []

    async def route_message(self, raw_msg: str) -> None:
        self.received.append(raw_msg)
        await super().route_message(raw_msg)  # type: ignore[misc]


class KeyKeeper(Recording, Charger):
    """A 1.6 charger that keeps its configuration and reports all of it, secrets included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: dict[str, str] = {}

    @on(Action.change_configuration)
    async def on_change_configuration(
        self, key: str, value: str
    ) -> call_result.ChangeConfiguration:
        self.config[key] = value
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.get_configuration)
    async def on_get_configuration(
        self, key: list[str] | None = None
    ) -> call_result.GetConfiguration:
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "value": v, "readonly": False} for k, v in self.config.items()
            ]
        )


class VariableKeeper(Recording, V201ChargePoint):
    """A 2.0.1 station that keeps its variables and reports them, secrets included."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables: dict[tuple[str, str], str] = {}

    @on(Action201.set_variables)
    async def on_set_variables(
        self, set_variable_data: list[dict[str, Any]]
    ) -> result201.SetVariables:
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            self.variables[key] = item["attribute_value"]
        return result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in set_variable_data
            ]
        )

    @on(Action201.get_variables)
    async def on_get_variables(
        self, get_variable_data: list[dict[str, Any]]
    ) -> result201.GetVariables:
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": self.variables[
                        (item["component"]["name"], item["variable"]["name"])
                    ],
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )


def table_text(url: str, table: str) -> str:
    """Every row of ``table``, every column, as one text."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
    finally:
        engine.dispose()
    return "\n".join(repr(tuple(row)) for row in rows)


def logged_out_frames(url: str, charge_point_id: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT message FROM ocpp_frames WHERE charge_point_id = :id "
                        "AND direction = 'out' ORDER BY id"
                    ),
                    {"id": charge_point_id},
                ).scalars()
            )
    finally:
        engine.dispose()


async def test_authorization_key_is_sent_but_never_stored(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as server:
        async with api_client(server, ADMIN_TOKEN) as admin:
            await register(admin, "CP1")
            async with charger(server, "CP1", KeyKeeper) as cp:
                await cp.boot()
                commands = "/charge-points/CP1/commands"
                changed = await admin.post(
                    f"{commands}/change-configuration",
                    json={"key": "AuthorizationKey", "value": SECRET},
                )
                interval = await admin.post(
                    f"{commands}/change-configuration",
                    json={"key": "MeterValueSampleInterval", "value": "30"},
                )
                read = await admin.post(f"{commands}/get-configuration", json={"keys": []})
                received = list(cp.received)
            detail = (await admin.get("/charge-points/CP1")).json()
    assert changed.json()["status"] == interval.json()["status"] == "Accepted"
    assert read.status_code == 200
    assert cp.config["AuthorizationKey"] == SECRET  # the charger got it
    for table in ("ocpp_frames", "charge_point_settings"):
        assert SECRET not in table_text(sqlite_url, table)
    configuration = {s["variable"]: s["value"] for s in detail["configuration"]}
    assert configuration == {"AuthorizationKey": "***", "MeterValueSampleInterval": "30"}
    logged = logged_out_frames(sqlite_url, "CP1")
    interval_frame = next(f for f in received if "MeterValueSampleInterval" in f)
    assert interval_frame in logged  # frames without secrets are logged exactly as sent
    key_frame = next(f for f in logged if "AuthorizationKey" in f)
    assert '"value":"***"' in key_frame


async def test_basic_auth_password_is_sent_but_never_stored(sqlite_url: str) -> None:
    password = {"component": "SecurityCtrlr", "variable": "BasicAuthPassword"}
    heartbeat = {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}
    async with running(make_settings(sqlite_url)) as server:
        assert server.port is not None
        async with api_client(server, ADMIN_TOKEN) as admin:
            await register(admin, "CS1")
            async with connected(
                VariableKeeper, server.port, "CS1", subprotocol="ocpp2.0.1"
            ) as station:
                await station.call(
                    call201.BootNotification(
                        charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
                    )
                )
                commands = "/charge-points/CS1/commands"
                changed = await admin.post(
                    f"{commands}/set-variables",
                    json={"values": [{**password, "value": SECRET}, {**heartbeat, "value": "120"}]},
                )
                read = await admin.post(
                    f"{commands}/get-variables", json={"variables": [password, heartbeat]}
                )
            detail = (await admin.get("/charge-points/CS1")).json()
    assert changed.json()["status"] == "Accepted", changed.text
    assert read.json()["status"] == "Accepted", read.text
    assert station.variables[("SecurityCtrlr", "BasicAuthPassword")] == SECRET
    for table in ("ocpp_frames", "charge_point_settings"):
        assert SECRET not in table_text(sqlite_url, table)
    configuration = {s["variable"]: s["value"] for s in detail["configuration"]}
    assert configuration == {"BasicAuthPassword": "***", "HeartbeatInterval": "120"}
    logged = logged_out_frames(sqlite_url, "CS1")
    set_frame = next(f for f in logged if "SetVariables" in f)
    assert '"attributeValue":"***"' in set_frame and '"attributeValue":"120"' in set_frame
