"""Values no column can hold are refused at the edge, over a real WebSocket, on both databases.

Before ``ems.ocpp.bounds`` such frames were acknowledged and then lost when the write failed. Here
each gets the CALLERROR the spec calls for, naming the field; the connection stays open; the
valid MeterValues that follows is acknowledged and its samples are in the database; and a second
charge point connected at the same time notices nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call
from sqlalchemy import select

from ems.app import EmsServer
from ems.config import Settings
from ems.ocpp.translate import format_time
from ems.store import models
from tests.clients import connected
from tests.conftest import make_settings, running
from tests.e2e.wire import RawChargePoint, frame, port_of, raw_charge_point

NAN, INF = float("nan"), float("inf")


def settings_for(url: str) -> Settings:
    return make_settings(
        url,
        charge_points=[{"id": cp, "security_profile": 0} for cp in ("BAD16", "GOOD16", "BAD201")],
        ocpp={"accept_unknown_id_tokens": True},
    )


def status_16(**fields: Any) -> dict[str, Any]:
    return {"connectorId": 1, "errorCode": "NoError", "status": "Available", **fields}


def meter_values_16(stamp: str, value: str, **fields: Any) -> dict[str, Any]:
    sampled = [{"value": value, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    return {
        "connectorId": 1,
        "meterValue": [{"timestamp": stamp, "sampledValue": sampled}],
    } | fields


def start_16(stamp: str, **fields: Any) -> dict[str, Any]:
    return {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": stamp, **fields}


def bad_frames_16(stamp: str, far: str) -> list[tuple[str, str, str]]:
    """(frame, CALLERROR code, start of the cause naming the field)."""
    pcv, tcv = "PropertyConstraintViolation", "TypeConstraintViolation"
    value = "meterValue[0].sampledValue[0].value: "
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("StatusNotification", status_16(connectorId=2**64), pcv, "connectorId: "),
        ("StatusNotification", status_16(connectorId=NAN), tcv, "data.connectorId"),
        ("StatusNotification", status_16(info="bad\x00info"), pcv, "info: "),
        ("StatusNotification", status_16(timestamp=far), pcv, "timestamp: "),
        ("MeterValues", meter_values_16(stamp, "1", connectorId=2**64), pcv, "connectorId: "),
        ("MeterValues", meter_values_16(stamp, "1", transactionId=2**64), pcv, "transactionId: "),
        ("MeterValues", meter_values_16(stamp, "NaN"), pcv, value + "NaN"),
        ("MeterValues", meter_values_16(stamp, "12\x00"), pcv, value + "control character"),
        ("MeterValues", meter_values_16(stamp, "\ud800"), pcv, value + "lone surrogate"),
        ("MeterValues", meter_values_16(stamp, "1", transactionId=INF), tcv, "data.transactionId"),
        ("StartTransaction", start_16(stamp, connectorId=2**64), pcv, "connectorId: "),
        ("StartTransaction", start_16(stamp, idTag="T\x00G"), pcv, "idTag: "),
        ("StartTransaction", start_16(stamp, meterStart=2**64), pcv, "meterStart: "),
        ("StartTransaction", start_16(stamp, meterStart=NAN), tcv, "data.meterStart"),
        ("StartTransaction", start_16("9999-12-31T23:59:59-05:00"), pcv, "timestamp: "),
    ]
    return [
        (frame(f"x{i}", action, payload), code, cause)
        for i, (action, payload, code, cause) in enumerate(cases)
    ]


def event_201(stamp: str, **fields: Any) -> dict[str, Any]:
    sampled = {"value": 1000.0, "measurand": "Energy.Active.Import.Register"}
    return {
        "eventType": "Updated",
        "timestamp": stamp,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "edge-tx"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": stamp, "sampledValue": [sampled]}],
        **fields,
    }


def with_value(stamp: str, value: Any) -> list[dict[str, Any]]:
    return [{"timestamp": stamp, "sampledValue": [{"value": value}]}]


def bad_frames_201(stamp: str) -> list[tuple[str, str, str]]:
    pcv = "PropertyConstraintViolation"
    value = "meterValue[0].sampledValue[0].value: "
    cases: list[tuple[dict[str, Any], str]] = [
        (event_201(stamp, meterValue=with_value(stamp, NAN)), value + "NaN"),
        (event_201(stamp, meterValue=with_value(stamp, -INF)), value + "-Infinity"),
        (event_201(stamp, meterValue=with_value(stamp, "@1e400@")), value + "Infinity"),
        (event_201(stamp, evse={"id": 2**64, "connectorId": 1}), "evse.id: "),
        (event_201(stamp, seqNo=2**64), "seqNo: "),
        (event_201(stamp, transactionInfo={"transactionId": "a\x00"}), "transactionInfo."),
        (event_201(stamp, idToken={"idToken": "\udfff", "type": "ISO14443"}), "idToken.idToken: "),
        (event_201(stamp, timestamp="9999-12-31T23:59:59-05:00"), "timestamp: "),
    ]
    return [
        (frame(f"y{i}", "TransactionEvent", payload).replace('"@1e400@"', "1e400"), pcv, cause)
        for i, (payload, cause) in enumerate(cases)
    ]


def sample_values(server: EmsServer, charge_point_id: str) -> list[float]:
    """The values of every sample stored for a charge point, in or outside a transaction."""
    table = models.meter_samples
    query = select(table.c.value).where(table.c.charge_point_id == charge_point_id)
    with server.ems.store.engine.connect() as connection:
        return [float(value) for value in connection.scalars(query)]


async def refused_one_by_one(cp: RawChargePoint, cases: list[tuple[str, str, str]]) -> None:
    for text, code, cause in cases:
        answer = await cp.send(text)
        unique_id = text.split('"')[1]
        assert answer[:3] == [4, unique_id, code], (text, answer)
        assert answer[4]["cause"].startswith(cause), (text, answer)


async def test_unstorable_16_values_are_refused_and_the_valid_ones_after_them_stored(
    database_url: str,
) -> None:
    now = datetime.now(UTC)
    stamp, far = format_time(now - timedelta(minutes=5)), format_time(now + timedelta(days=800))
    async with (
        running(settings_for(database_url)) as server,
        raw_charge_point(server, "BAD16", "ocpp1.6") as bad,
        connected(V16ChargePoint, port_of(server), "GOOD16", subprotocol="ocpp1.6") as good,
    ):
        await good.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await bad.call("s", "StartTransaction", start_16(stamp))
        assert started[:2] == [3, "s"]
        tx_id = started[2]["transactionId"]

        async def good_meanwhile() -> None:
            for i in range(20):
                assert (await good.call(call.Heartbeat())).current_time
                value = [{"timestamp": stamp, "sampledValue": [{"value": str(500 + i)}]}]
                await good.call(call.MeterValues(connector_id=1, meter_value=value))

        await asyncio.gather(refused_one_by_one(bad, bad_frames_16(stamp, far)), good_meanwhile())

        payload = meter_values_16(stamp, "4321.5", transactionId=tx_id)
        assert await bad.call("ok", "MeterValues", payload) == [3, "ok", {}]
        await server.ems.recorder.barrier()
        store = server.ems.store
        txs = store.list_transactions(charge_point_id="BAD16")
        assert [tx.transaction_id for tx in txs] == [str(tx_id)]
        assert [s.value for s in store.samples_of(txs[0].id)] == [4321.5]
        assert store.status_history("BAD16") == []
        good_values = sorted(sample_values(server, "GOOD16"))
        assert good_values == [500.0 + i for i in range(20)]
        assert {"BAD16", "GOOD16"} <= set(server.ems.csms.sessions)


async def test_unstorable_201_values_are_refused_and_the_valid_ones_after_them_stored(
    database_url: str,
) -> None:
    stamp = format_time(datetime.now(UTC) - timedelta(minutes=5))
    started = event_201(stamp, eventType="Started", triggerReason="Authorized", seqNo=0)
    started["idToken"] = {"idToken": "TAG", "type": "ISO14443"}
    async with (
        running(settings_for(database_url)) as server,
        raw_charge_point(server, "BAD201", "ocpp2.0.1") as bad,
    ):
        assert (await bad.call("s", "TransactionEvent", started))[:2] == [3, "s"]
        await refused_one_by_one(bad, bad_frames_201(stamp))
        later = format_time(datetime.now(UTC) - timedelta(minutes=1))
        sampled = [{"value": 2.5, "measurand": "Energy.Active.Import.Register"}]
        sampled[0]["unitOfMeasure"] = {"unit": "kWh", "multiplier": 3}
        payload = {"evseId": 1, "meterValue": [{"timestamp": later, "sampledValue": sampled}]}
        assert await bad.call("ok", "MeterValues", payload) == [3, "ok", {}]
        await server.ems.recorder.barrier()
        tx = server.ems.store.find_transaction("BAD201", "edge-tx")
        assert tx is not None
        assert [s.value for s in server.ems.store.samples_of(tx.id)] == [1000.0, 2500.0]
        assert tx.evse_id == 1
