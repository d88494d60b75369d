"""After restarts and lost messages: open transactions reconciled with what the chargers say,
identical samples stored once, 1.6 transaction ids never handed out twice, implausible data
kept and flagged. Real ems, real WebSockets, both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action
from sqlalchemy import delete

from ems.app import EmsServer
from ems.domain import Transaction
from ems.store import models as m
from tests.clients import connected
from tests.conftest import make_settings, running

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EVSE = {"id": 1, "connector_id": 1}


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def settings(url: str) -> Any:
    return make_settings(
        url,
        charge_points=[{"id": cp, "security_profile": 0} for cp in ("S201", "P16")],
        ocpp={"accept_unknown_id_tokens": True},
    )


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    """Poll ``condition``; the timeout only guards against a hang."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - state of a running server, no event to await
            await asyncio.sleep(0.02)
    assert condition(), what


def quick(server: EmsServer) -> EmsServer:
    """Reconcile without the settling pause real chargers get."""
    assert server.ems.reconciler is not None
    server.ems.reconciler.settle_s = 0.0
    server.ems.reconciler.reask_s = 0.05
    server.ems.reconciler.grace_s = 0.05
    return server


def register(at: datetime, wh: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {
        "timestamp": iso(at),
        "sampled_value": [
            {
                "value": wh,
                "measurand": "Energy.Active.Import.Register",
                "context": context,
                "unit_of_measure": {"unit": "Wh"},
            }
        ],
    }


def event(kind: str, seq: int, at: datetime, wh: float, tx: str, **extra: Any) -> Any:
    context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
        kind, "Sample.Periodic"
    )
    values = extra.pop("meter_value", None) or [register(at, wh, context)]
    return call.TransactionEvent(
        event_type=kind,
        timestamp=iso(at),
        trigger_reason="MeterValuePeriodic",
        seq_no=seq,
        transaction_info={"transaction_id": tx, **extra.pop("info", {})},
        evse=EVSE,
        meter_value=values,
        **extra,
    )


class Station(V201ChargePoint):
    """A 2.0.1 station that answers GetTransactionStatus as told."""

    ongoing: bool | None = False
    queued: list[bool] = []
    asked: list[str] = []

    @on(Action.get_transaction_status)
    async def on_status(self, transaction_id: str | None = None) -> Any:
        self.asked.append(transaction_id or "")
        queued = self.queued.pop(0) if self.queued else False
        if self.ongoing is None:
            return call_result.GetTransactionStatus(messages_in_queue=queued)
        return call_result.GetTransactionStatus(
            messages_in_queue=queued, ongoing_indicator=self.ongoing
        )


async def boot201(station: V201ChargePoint) -> None:
    await station.call(
        call.BootNotification(charging_station={"vendor_name": "V", "model": "M"}, reason="PowerUp")
    )


async def left_open(config: Any, wire_id: str, *later: Any) -> None:
    """An ems run in which the station starts ``wire_id`` at T0 (1000 Wh) and sends ``later``
    events; ems then stops with the transaction open."""
    async with (
        running(config) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        await boot201(station)
        for message in (event("Started", 0, T0, 1000.0, wire_id), *later):
            await station.call(message)


def stored(server: EmsServer, cp: str, wire_id: str) -> Transaction:
    tx = server.ems.store.find_transaction(cp, wire_id)
    assert tx is not None
    return tx


async def test_a_2_0_1_transaction_the_station_no_longer_has_is_closed_after_a_restart(
    database_url: str,
) -> None:
    config = settings(database_url)
    await left_open(
        config, "ghost", event("Updated", 1, T0 + timedelta(minutes=5), 2000.0, "ghost")
    )
    # the station ended it while ems was down and lost the Ended event
    async with running(config) as server:
        quick(server)
        assert [tx.transaction_id for tx in server.ems.csms.open_transactions("S201")] == ["ghost"]
        Station.ongoing, Station.queued, Station.asked = False, [], []
        async with connected(Station, server.port, "S201", subprotocol="ocpp2.0.1"):
            await wait_until(lambda: not server.ems.csms.open_transactions("S201"), "closed")
        await server.ems.recorder.barrier()
        tx = stored(server, "S201", "ghost")
        assert Station.asked == ["ghost"]
        assert tx.stopped_at == T0 + timedelta(minutes=5)  # its last reading, not "now"
        assert tx.closed_reason is not None and "not ongoing" in tx.closed_reason


async def test_a_transaction_the_station_still_runs_stays_open(database_url: str) -> None:
    config = settings(database_url)
    await left_open(config, "alive")
    async with running(config) as server:
        quick(server)
        Station.ongoing, Station.queued, Station.asked = True, [], []
        async with connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station:
            await wait_until(lambda: Station.asked == ["alive"], "asked")
            await station.call(event("Updated", 1, T0 + timedelta(minutes=1), 1500.0, "alive"))
        assert [tx.transaction_id for tx in server.ems.csms.open_transactions("S201")] == ["alive"]


async def test_queued_messages_are_awaited_and_their_real_end_is_kept(database_url: str) -> None:
    config = settings(database_url)
    await left_open(config, "queued")
    async with running(config) as server:
        quick(server).ems.reconciler.reask_s = 60  # type: ignore[union-attr]
        Station.ongoing, Station.queued, Station.asked = False, [True], []
        async with connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station:
            await wait_until(lambda: len(Station.asked) == 1, "asked once")
            # the queue it reported holds the real end
            ended_at = T0 + timedelta(hours=1)
            await station.call(
                event(
                    "Ended",
                    1,
                    ended_at,
                    9000.0,
                    "queued",
                    info={"stopped_reason": "EVDisconnected"},
                )
            )
        await server.ems.recorder.barrier()
        tx = stored(server, "S201", "queued")
        assert (tx.stopped_at, tx.stop_reason, tx.meter_stop_wh) == (
            ended_at,
            "EVDisconnected",
            9000.0,
        )
        assert tx.closed_reason is None


async def test_a_new_2_0_1_transaction_closes_the_one_it_replaces_and_a_late_end_corrects_it(
    database_url: str,
) -> None:
    async with (
        running(settings(database_url)) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        await boot201(station)
        await station.call(event("Started", 0, T0, 1000.0, "first"))
        second_at = T0 + timedelta(hours=2)
        await station.call(event("Started", 0, second_at, 5000.0, "second"))
        await server.ems.recorder.barrier()
        first = stored(server, "S201", "first")
        assert first.stopped_at == second_at
        assert first.closed_reason is not None and "second" in first.closed_reason
        assert [tx.transaction_id for tx in server.ems.csms.open_transactions("S201")] == ["second"]
        # the first one's own end arrives late (it was queued): it replaces the assumed end
        ended_at = T0 + timedelta(hours=1)
        await station.call(
            event("Ended", 1, ended_at, 4000.0, "first", info={"stopped_reason": "Local"})
        )
        await server.ems.recorder.barrier()
        first = stored(server, "S201", "first")
        assert (first.stopped_at, first.meter_stop_wh, first.closed_reason) == (
            ended_at,
            4000.0,
            None,
        )


class Point16(V16ChargePoint):
    """A 1.6 charge point that answers a triggered StatusNotification with ``status``."""

    status = "Available"
    triggered: list[int] = []

    @on(Action16.trigger_message)
    async def on_trigger(self, requested_message: str, connector_id: int | None = None) -> Any:
        self.triggered.append(connector_id or 0)
        asyncio.get_running_loop().create_task(self._send_status(connector_id or 1))
        return result16.TriggerMessage(status="Accepted")

    async def _send_status(self, connector_id: int) -> None:
        await self.call(
            call16.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=self.status
            )
        )


async def boot_and_start16(cp: V16ChargePoint) -> Any:
    """Boot, then start a transaction on connector 1 at T0; the StartTransaction answer."""
    await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
    return await cp.call(
        call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0, timestamp=iso(T0))
    )


async def test_a_1_6_transaction_is_closed_when_its_connector_reports_no_transaction(
    database_url: str,
) -> None:
    config = settings(database_url)
    async with (
        running(config) as server,
        connected(Point16, server.port, "P16", subprotocol="ocpp1.6") as cp,
    ):
        start = await boot_and_start16(cp)
    async with running(config) as server:
        quick(server)
        Point16.status, Point16.triggered = "Available", []
        async with connected(Point16, server.port, "P16", subprotocol="ocpp1.6"):
            await wait_until(lambda: not server.ems.csms.open_transactions("P16"), "closed")
        assert Point16.triggered == [1]
        await server.ems.recorder.barrier()
        tx = stored(server, "P16", str(start.transaction_id))
        assert tx.closed_reason is not None and "Available" in tx.closed_reason


async def test_a_1_6_connector_still_charging_keeps_its_transaction(database_url: str) -> None:
    config = settings(database_url)
    async with (
        running(config) as server,
        connected(Point16, server.port, "P16", subprotocol="ocpp1.6") as cp,
    ):
        await boot_and_start16(cp)
    async with running(config) as server:
        quick(server)
        Point16.status, Point16.triggered = "Charging", []
        async with connected(Point16, server.port, "P16", subprotocol="ocpp1.6"):
            await wait_until(lambda: Point16.triggered == [1], "triggered")
            await server.ems.recorder.barrier()
            await wait_until(
                lambda: (
                    server.ems.csms.charge_points["P16"].connectors[(1, 1)].status.value
                    == "Charging"
                ),
                "status stored",
            )
        assert len(server.ems.csms.open_transactions("P16")) == 1


def sample_rows(server: EmsServer, cp: str) -> list[tuple[Any, ...]]:
    t = m.meter_samples
    with server.ems.store.engine.connect() as connection:
        rows = connection.execute(
            t.select().where(t.c.charge_point_id == cp).order_by(t.c.timestamp, t.c.id)
        ).all()
    return [(r.timestamp, r.measurand, r.value, r.context) for r in rows]


async def test_identical_samples_are_stored_once_across_repeats_and_restarts(
    database_url: str,
) -> None:
    config = settings(database_url)
    readings = [register(T0 + timedelta(minutes=i + 1), 1100.0 + 100 * i) for i in range(3)]
    async with (
        running(config) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        await boot201(station)
        await station.call(event("Started", 0, T0, 1000.0, "dup"))
        for seq, reading in enumerate(readings, start=1):
            await station.call(event("Updated", seq, T0, 0, "dup", meter_value=[reading]))
        await server.ems.recorder.barrier()
        before = sample_rows(server, "S201")
    async with (
        running(config) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        assert server.ems.reconciler is not None
        server.ems.reconciler.settle_s = 60  # keep the reconciler out of this test
        # the last Updated again (its answer was "lost"), then Ended repeating every reading
        await station.call(event("Updated", 3, T0, 0, "dup", meter_value=[readings[2]]))
        ended_at = T0 + timedelta(minutes=4)
        end = register(ended_at, 1400.0, "Transaction.End")
        await station.call(event("Ended", 4, ended_at, 0, "dup", meter_value=[*readings, end]))
        await server.ems.recorder.barrier()
        after = sample_rows(server, "S201")
    assert len(before) == 4  # Started's Transaction.Begin reading and three periodic ones
    energy = "Energy.Active.Import.Register"
    assert after == [*before, (ended_at, energy, 1400.0, "Transaction.End")]


async def test_1_6_transaction_ids_are_never_handed_out_twice_even_for_a_deleted_charger(
    database_url: str,
) -> None:
    ocpp = {"auto_register": True, "auto_register_status": "Accepted"}
    config = make_settings(database_url, ocpp={**ocpp, "accept_unknown_id_tokens": True})
    ids: list[int] = []
    async with running(config) as server:
        async with connected(V16ChargePoint, server.port, "GONE", subprotocol="ocpp1.6") as cp:
            for n in range(3):
                at = iso(T0 + timedelta(hours=n))
                answer = await cp.call(
                    call16.StartTransaction(connector_id=1, id_tag="T", meter_start=n, timestamp=at)
                )
                ids.append(answer.transaction_id)
        # the operator deletes the charger and its transactions' history goes with a cleanup
        await server.ems.csms.remove_charge_point("GONE")
        with server.ems.store.engine.begin() as connection:
            connection.execute(delete(m.transactions))
    async with running(config) as server:
        async with connected(V16ChargePoint, server.port, "NEW", subprotocol="ocpp1.6") as cp:
            answer = await cp.call(call16.StartTransaction(
                connector_id=1, id_tag="T", meter_start=0, timestamp=iso(T0)
            ))  # fmt: skip
    assert answer.transaction_id > max(ids)


async def test_a_register_going_backwards_is_kept_and_flagged(database_url: str) -> None:
    async with (
        running(settings(database_url)) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        await boot201(station)
        await station.call(event("Started", 0, T0, 5000.0, "odd"))
        await station.call(event("Updated", 1, T0 + timedelta(minutes=1), 5200.0, "odd"))
        await station.call(event("Updated", 2, T0 + timedelta(minutes=2), 100.0, "odd"))
        await server.ems.recorder.barrier()
        tx = stored(server, "S201", "odd")
        assert tx.anomaly is not None and "5200" in tx.anomaly and "100" in tx.anomaly
        assert len(sample_rows(server, "S201")) == 3  # kept as sent
        flags = server.ems.store.events_of("S201", kind="implausible_data")
        assert [f.payload["kind"] for f in flags] == ["register_backwards"]


async def test_a_status_dated_far_ahead_is_flagged_and_does_not_freeze_the_connector(
    database_url: str,
) -> None:
    async with (
        running(settings(database_url)) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        await boot201(station)
        now = datetime.now(UTC)
        for ahead, status in ((timedelta(days=30), "Occupied"), (timedelta(0), "Available")):
            at = datetime.now(UTC) + ahead  # the station's clock: right, or a month ahead
            await station.call(
                call.StatusNotification(
                    timestamp=iso(at), connector_status=status, evse_id=1, connector_id=1
                )
            )
        assert server.ems.csms.charge_points["S201"].connectors[(1, 1)].status.value == "Available"
        await server.ems.recorder.barrier()
        assert [r.status.value for r in server.ems.store.connectors_of("S201")] == ["Available"]
        history = server.ems.store.status_history("S201")
        assert history[0].timestamp > now + timedelta(days=29)  # kept as sent
        flags = server.ems.store.events_of("S201", kind="implausible_data")
        assert [f.payload["kind"] for f in flags] == ["status_in_future"]


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_frame_nested_a_thousand_levels_gets_a_callerror_not_a_disconnect(
    sqlite_url: str, version: str
) -> None:
    import websockets

    from tests.clients import raw_exchange

    async with (
        running(settings(sqlite_url)) as server,
        websockets.connect(
            f"ws://127.0.0.1:{server.port}/ocpp/S201",
            subprotocols=[version],  # type: ignore[list-item]
        ) as ws,
    ):
        deep = "[" * 200 + "]" * 200
        answer = await raw_exchange(
            ws, f'[2,"deep","DataTransfer",{{"vendorId":"x","data":{deep}}}]'
        )
        expected = "FormationViolation" if version == "ocpp1.6" else "FormatViolation"
        assert answer[:3] == [4, "deep", expected]
        answer = await raw_exchange(ws, "[" * 5000 + "]" * 5000)
        expected = "FormationViolation" if version == "ocpp1.6" else "RpcFrameworkError"
        assert answer[:3] == [4, "-1", expected]
        assert (await raw_exchange(ws, '[2,"after","Heartbeat",{}]'))[:2] == [3, "after"]


async def test_a_1_6_stop_that_follows_its_available_status_is_kept_as_sent(
    database_url: str,
) -> None:
    async with (
        running(settings(database_url)) as server,
        connected(Point16, server.port, "P16", subprotocol="ocpp1.6") as cp,
    ):
        assert server.ems.reconciler is not None
        server.ems.reconciler.grace_s = 60  # the stop comes well within the grace
        start = await boot_and_start16(cp)
        # back online: its status first, then the stop it queued offline
        await cp.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        )
        ended_at = T0 + timedelta(hours=1)
        await cp.call(
            call16.StopTransaction(
                meter_stop=7000, timestamp=iso(ended_at), transaction_id=start.transaction_id
            )
        )
        await server.ems.recorder.barrier()
        tx = stored(server, "P16", str(start.transaction_id))
        assert (tx.stopped_at, tx.meter_stop_wh, tx.closed_reason) == (ended_at, 7000.0, None)


async def test_samples_for_a_transaction_that_ended_before_a_restart_stay_linked_to_it(
    database_url: str,
) -> None:
    config = settings(database_url)
    async with (
        running(config) as server,
        connected(Point16, server.port, "P16", subprotocol="ocpp1.6") as cp,
    ):
        start = await boot_and_start16(cp)
        await cp.call(
            call16.StopTransaction(
                meter_stop=900, timestamp=iso(T0 + timedelta(minutes=9)),
                transaction_id=start.transaction_id,
            )
        )  # fmt: skip
    async with (
        running(config) as server,
        connected(Point16, server.port, "P16", subprotocol="ocpp1.6") as cp,
    ):
        # a late reading of it, from a queue that was sent out of order
        late = {"timestamp": iso(T0 + timedelta(minutes=5)), "sampledValue": [{"value": "500"}]}
        await cp.call(
            call16.MeterValues(
                connector_id=1, transaction_id=start.transaction_id, meter_value=[late]
            )
        )
        await server.ems.recorder.barrier()
        tx = stored(server, "P16", str(start.transaction_id))
        assert [s.value for s in server.ems.store.samples_of(tx.id)] == [500.0]


async def test_after_a_restart_the_first_reading_of_a_running_transaction_is_kept(
    database_url: str,
) -> None:
    config = settings(database_url)
    await left_open(config, "long")
    async with (
        running(config) as server,
        connected(Station, server.port, "S201", subprotocol="ocpp2.0.1") as station,
    ):
        assert server.ems.reconciler is not None
        server.ems.reconciler.settle_s = 60  # keep the reconciler out of this test
        await station.call(event("Updated", 1, T0 + timedelta(hours=1), 4000.0, "long"))
        await server.ems.recorder.barrier()
        tx = stored(server, "S201", "long")
        assert (tx.first_energy_register_wh, tx.last_energy_register_wh) == (1000.0, 4000.0)
        assert tx.energy_wh == 3000.0
