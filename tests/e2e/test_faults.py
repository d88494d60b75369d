"""Bad input and faults: malformed frames, unknown actions, duplicates, offline queues,
reconnects and restarts. Every case talks to a running ems over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call

from tests.clients import connected, raw_exchange
from tests.conftest import make_settings, running

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def settings_for(url: str) -> object:
    return make_settings(
        url,
        charge_points=[{"id": cp, "security_profile": 0} for cp in ("A", "B", "C201")],
        ocpp={"accept_unknown_id_tokens": True},
    )


def ws_url(port: int, cp: str) -> str:
    return f"ws://127.0.0.1:{port}/ocpp/{cp}"


BOOT16 = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'


@pytest.mark.parametrize(
    ("frame", "unique_id", "code"),
    [
        ("this is not json", "-1", "FormationViolation"),
        ('{"not": "an array"}', "-1", "FormationViolation"),
        ('[2,"m1","Heartbeat"]', "m1", "ProtocolError"),
        ('[7,"m2","Heartbeat",{}]', "m2", "ProtocolError"),
        ('[2,"m3","Heartbeat",[]]', "m3", "FormationViolation"),
        ('[2,"m4","FlyToTheMoon",{}]', "m4", "NotImplemented"),
        ('[2,"m5","Reset",{"type":"Hard"}]', "m5", "NotSupported"),
        (
            '[2,"m6","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]',
            "m6",
            "TypeConstraintViolation",
        ),
        (
            '[2,"m7","StatusNotification",{"errorCode":"NoError","status":"Available"}]',
            "m7",
            "ProtocolError",
        ),
        (
            '[2,"m8","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Sleeping"}]',
            "m8",
            "PropertyConstraintViolation",
        ),
        ('[2,"m9","Heartbeat",{"surprise":1}]', "m9", "FormationViolation"),
        ('[2,"m10","Authorize",{"idTag":"' + "X" * 21 + '"}]', "m10", "TypeConstraintViolation"),
    ],
)
async def test_malformed_16_frames_get_the_spec_callerror_and_the_connection_stays_open(
    sqlite_url: str, frame: str, unique_id: str, code: str
) -> None:
    async with running(settings_for(sqlite_url)) as server:
        async with websockets.connect(ws_url(server.port, "A"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            assert (await raw_exchange(ws, BOOT16))[0] == 3
            answer = await raw_exchange(ws, frame)
            assert answer[:3] == [4, unique_id, code]
            assert isinstance(answer[3], str) and isinstance(answer[4], dict)
            heartbeat = await raw_exchange(ws, '[2,"after","Heartbeat",{}]')
            assert heartbeat[:2] == [3, "after"]


@pytest.mark.parametrize(
    ("frame", "unique_id", "code"),
    [
        ("{{{", "-1", "RpcFrameworkError"),
        ('[9,"n1","Heartbeat",{}]', "n1", "MessageTypeNotSupported"),
        ('[2,"n2","Heartbeat",{"extra":true}]', "n2", "FormatViolation"),
        (
            '[2,"n3","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z","connectorStatus":"Available","evseId":1}]',
            "n3",
            "OccurrenceConstraintViolation",
        ),
        ('[2,"n4","NoSuchThing",{}]', "n4", "NotImplemented"),
    ],
)
async def test_malformed_201_frames_get_the_spec_callerror(
    sqlite_url: str, frame: str, unique_id: str, code: str
) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        websockets.connect(ws_url(server.port, "C201"), subprotocols=["ocpp2.0.1"]) as ws,
    ):  # type: ignore[list-item]
        answer = await raw_exchange(ws, frame)
        assert answer[:3] == [4, unique_id, code]
        assert (await raw_exchange(ws, '[2,"ok","Heartbeat",{}]'))[:2] == [3, "ok"]


async def test_a_faulty_charge_point_does_not_disturb_another(sqlite_url: str) -> None:
    async with running(settings_for(sqlite_url)) as server:
        async with (
            websockets.connect(ws_url(server.port, "A"), subprotocols=["ocpp1.6"]) as bad,
            connected(  # type: ignore[list-item]
                V16ChargePoint, server.port, "B", subprotocol="ocpp1.6"
            ) as good,
        ):
            await good.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))

            async def garbage() -> list[str]:
                for i in range(200):
                    await bad.send("garbage" if i % 2 else f'[2,"g{i}","Nope",{{}}]')
                return [json.loads(await bad.recv())[2] for _ in range(200)]

            flood = asyncio.create_task(garbage())
            for _ in range(20):
                assert (await good.call(call.Heartbeat())).current_time
            assert set(await flood) == {"FormationViolation", "NotImplemented"}
            await bad.close()
            assert (await good.call(call.Heartbeat())).current_time
            assert "B" in server.ems.csms.sessions


async def test_duplicate_stop_transaction_is_idempotent(sqlite_url: str) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(V16ChargePoint, server.port, "A", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=iso(T0))
        )
        again = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=iso(T0))
        )
        assert again.transaction_id == start.transaction_id
        stop = call.StopTransaction(
            meter_stop=4000,
            timestamp=iso(T0 + timedelta(hours=1)),
            transaction_id=start.transaction_id,
            transaction_data=[
                {"timestamp": iso(T0 + timedelta(minutes=59)), "sampledValue": [{"value": "3990"}]}
            ],
        )
        await cp.call(stop)
        await cp.call(stop)
        await server.ems.recorder.barrier()
        txs = server.ems.store.list_transactions(charge_point_id="A")
        assert len(txs) == 1 and txs[0].energy_wh == 4000
        assert len(server.ems.store.samples_of(txs[0].id)) == 1


async def test_messages_queued_offline_are_accepted_and_ordered_by_timestamp(
    sqlite_url: str,
) -> None:
    async with (
        running(settings_for(sqlite_url)) as server,
        connected(V16ChargePoint, server.port, "A", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await cp.call(
            call.StatusNotification(
                connector_id=1,
                error_code="NoError",
                status="Available",
                timestamp=iso(T0 + timedelta(hours=5)),
            )
        )
        # Sent after coming back online, but these happened hours earlier.
        await cp.call(
            call.StatusNotification(
                connector_id=1,
                error_code="NoError",
                status="Charging",
                timestamp=iso(T0 + timedelta(hours=2)),
            )
        )
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="T", meter_start=100, timestamp=iso(T0 + timedelta(hours=1))
            )
        )
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": iso(T0 + timedelta(hours=3)),
                        "sampledValue": [{"value": "2100"}],
                    },
                    {
                        "timestamp": iso(T0 + timedelta(hours=2)),
                        "sampledValue": [{"value": "1100"}],
                    },
                ],
            )
        )
        await cp.call(
            call.StopTransaction(
                meter_stop=2600,
                timestamp=iso(T0 + timedelta(hours=4)),
                transaction_id=start.transaction_id,
            )
        )
        await server.ems.recorder.barrier()
        store = server.ems.store
        history = store.status_history("A")
        assert [h.status.value for h in history] == ["Available", "Charging"]
        assert store.connectors_of("A")[0].status.value == "Available"
        tx = store.list_transactions(charge_point_id="A")[0]
        assert tx.started_at == T0 + timedelta(hours=1) and tx.stopped_at == T0 + timedelta(hours=4)
        assert [s.value for s in store.samples_of(tx.id)] == [1100.0, 2100.0]
        assert tx.energy_wh == 2500


async def test_reconnect_replaces_the_old_connection(sqlite_url: str) -> None:
    async with running(settings_for(sqlite_url)) as server:
        async with websockets.connect(ws_url(server.port, "A"), subprotocols=["ocpp1.6"]) as first:  # type: ignore[list-item]
            await raw_exchange(first, BOOT16)
            async with websockets.connect(
                ws_url(server.port, "A"), subprotocols=["ocpp1.6"]
            ) as second:  # type: ignore[list-item]
                await asyncio.wait_for(first.wait_closed(), 5)
                assert (await raw_exchange(second, '[2,"h","Heartbeat",{}]'))[0] == 3
                assert len(server.ems.csms.sessions) == 1


async def test_open_transactions_survive_an_ems_restart(database_url: str) -> None:
    settings = settings_for(database_url)
    async with (
        running(settings) as server,
        connected(V16ChargePoint, server.port, "A", subprotocol="ocpp1.6") as cp,
    ):
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="T", meter_start=500, timestamp=iso(T0))
        )
    async with (
        running(settings) as server,
        connected(V16ChargePoint, server.port, "A", subprotocol="ocpp1.6") as cp,
    ):
        assert [tx.transaction_id for tx in server.ems.csms.open_transactions("A")] == [
            str(start.transaction_id)
        ]
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=start.transaction_id,
                meter_value=[
                    {
                        "timestamp": iso(T0 + timedelta(minutes=30)),
                        "sampledValue": [{"value": "1500"}],
                    }
                ],
            )
        )
        second = await cp.call(
            call.StartTransaction(connector_id=2, id_tag="U", meter_start=0, timestamp=iso(T0))
        )
        assert second.transaction_id > start.transaction_id
        await cp.call(
            call.StopTransaction(
                meter_stop=2500,
                timestamp=iso(T0 + timedelta(hours=1)),
                transaction_id=start.transaction_id,
            )
        )
        await server.ems.recorder.barrier()
        tx = server.ems.store.find_transaction("A", str(start.transaction_id))
    assert tx is not None and tx.energy_wh == 2000 and not tx.active


def test_frames_are_logged_in_both_directions(sqlite_url: str) -> None:
    async def scenario() -> list[tuple[str, str]]:
        async with running(settings_for(sqlite_url)) as server:
            async with websockets.connect(ws_url(server.port, "A"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
                await raw_exchange(ws, BOOT16)
            await server.ems.recorder.barrier()
            return [
                (f.direction, json.loads(f.message)[1]) for f in server.ems.store.frames_of("A")
            ]

    frames = asyncio.run(scenario())
    assert sorted(frames) == [("in", "b1"), ("out", "b1")]
