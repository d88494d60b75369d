"""The recorder writes OCPP traffic in batches without losing, reordering or blocking."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event

from ems.domain import BootInfo, ConnectorStatus, MeterSample
from ems.store import ChargePointRow, Recorder, SettingRow, Store
from tests.store.helpers import ENERGY, at, energy, status, transaction


def count_executions(store: Store) -> list[int]:
    """A list that grows by one per statement the store's engine executes."""
    executions: list[int] = []

    def on_execute(*_args: Any) -> None:
        executions.append(1)

    event.listen(store.engine, "before_cursor_execute", on_execute)
    return executions


@pytest.mark.parametrize("batch_size", [1, 3, 2000])
def test_last_transaction_snapshot_wins_when_updates_and_samples_interleave(
    store: Store, batch_size: int
) -> None:
    recorder = Recorder(store, batch_size=batch_size, flush_interval_s=0.01)
    recorder.start()
    tx = transaction()
    recorder.transaction(tx)
    recorder.samples("cp-1", 1, 1, tx.id, [energy(60, 1500.0)])
    tx.last_energy_register_wh = 1500.0
    tx.last_seq_no = 1
    recorder.transaction(tx)
    recorder.samples("cp-1", 1, 1, tx.id, [energy(120, 2500.0)])
    tx.meter_stop_wh = 2600.0
    tx.stopped_at = at(130)
    tx.stop_reason = "Local"
    recorder.transaction(tx)
    tx.meter_stop_wh = 9999.0  # changed after the last call: must not be written
    recorder.stop()

    stored = store.get_transaction(tx.id)
    assert stored is not None
    assert (stored.meter_stop_wh, stored.stopped_at) == (2600.0, at(130))
    assert stored.stop_reason == "Local"
    assert stored.last_seq_no == 1
    assert stored.energy_wh == 1600.0
    assert [s.value for s in store.samples_of(tx.id)] == [1500.0, 2500.0]
    assert recorder.failed_batches == 0


def test_fifty_thousand_samples_are_written_in_few_statements(store: Store) -> None:
    recorder = Recorder(store, flush_interval_s=0.01)
    executions = count_executions(store)
    recorder.start()
    samples = [MeterSample(at(i), f"measurand-{i}", float(i)) for i in range(10)]
    calls = 5_000
    for i in range(calls):
        recorder.samples(f"cp-{i % 50}", 1, 1, None, samples)
        recorder.frame(f"cp-{i % 50}", "in", at(i), '[2,"1","MeterValues",{}]')
        recorder.seen(f"cp-{i % 50}", at(i))
    recorder.flush_sync()

    assert store.count_samples() == 50_000
    assert len(store.frames_of("cp-0", limit=1000)) == calls // 50
    assert recorder.pending == 0
    assert recorder.failed_batches == 0
    # one executemany per table and batch, not one statement per operation
    assert len(executions) < calls / 10
    recorder.stop()


def test_operations_from_many_threads_are_all_written(store: Store, recorder: Recorder) -> None:
    def produce(thread: int) -> None:
        for i in range(500):
            recorder.samples(f"cp-{thread}", 1, 1, None, [energy(i, float(i))])

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.flush_sync()
    assert store.count_samples() == 8 * 500


def test_stop_writes_everything_still_queued(store: Store) -> None:
    recorder = Recorder(store, batch_size=1_000_000, flush_interval_s=60)
    recorder.start()
    for i in range(3000):
        recorder.samples("cp-1", 1, 1, "tx-1", [energy(i, float(i))])
    recorder.transaction(transaction())
    time.sleep(0.05)
    assert store.count_samples() == 0  # still waiting for the interval or a full batch
    assert recorder.pending == 3001

    recorder.stop()
    assert store.count_samples() == 3000
    assert store.get_transaction("tx-1") is not None
    assert recorder.pending == 0
    assert not recorder.running


def test_stop_without_start_writes_the_queue(store: Store) -> None:
    recorder = Recorder(store)
    recorder.samples("cp-1", 1, 1, None, [energy(0, 1.0)])
    recorder.stop()
    assert store.count_samples() == 1


async def test_barrier_gives_read_your_writes_without_waiting_for_the_interval(
    store: Store,
) -> None:
    recorder = Recorder(store, flush_interval_s=30)
    recorder.start()
    try:
        recorder.transaction(transaction())
        recorder.status("cp-1", status(5, ConnectorStatus.CHARGING), current=True)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        await asyncio.wait_for(recorder.barrier(), timeout=10)
        ticker.cancel()

        assert time.monotonic() - started < 5
        assert ticks > 0  # the event loop kept running while the barrier waited
        assert store.get_transaction("tx-1") is not None
        assert [r.status for r in store.connectors_of("cp-1")] == [ConnectorStatus.CHARGING]
    finally:
        recorder.stop()


async def test_barrier_on_a_stopped_recorder_writes_the_queue(store: Store) -> None:
    recorder = Recorder(store)
    recorder.transaction(transaction())
    await recorder.barrier()
    assert store.get_transaction("tx-1") is not None


def test_bad_rows_are_dropped_and_the_rest_of_the_batch_is_written(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(store, flush_interval_s=60)
    recorder.start()
    recorder.frame("cp-1", "in", at(0), "good 1")
    recorder.frame("cp-1", "sideways", at(1), "violates the direction check")
    recorder.frame("cp-1", "out", at(2), "good 2")
    recorder.transaction(transaction(id="tx-a", transaction_id="7"))
    recorder.transaction(transaction(id="tx-b", transaction_id="7"))  # same wire id: unique
    recorder.samples("cp-1", 1, 1, "tx-a", [energy(0, 1.0), energy(1, 2.0)])
    naive = MeterSample(at(2).replace(tzinfo=None), ENERGY, 3.0)  # naive: refused
    recorder.samples("cp-1", 1, 1, "tx-a", [naive])
    recorder.seen("cp-1", at(0).replace(tzinfo=None))
    with caplog.at_level(logging.ERROR, logger="ems.store"):
        recorder.flush_sync()

    assert recorder.failed_batches == 1
    assert [f.message for f in store.frames_of("cp-1")] == ["good 2", "good 1"]
    assert store.get_transaction("tx-a") is not None
    assert store.get_transaction("tx-b") is None
    assert store.count_samples() == 2
    assert "sideways" in caplog.text and "tx-b" in caplog.text

    recorder.frame("cp-1", "in", at(3), "after the failure")  # the writer is still alive
    recorder.flush_sync()
    assert store.frames_of("cp-1", limit=1)[0].message == "after the failure"
    assert recorder.failed_batches == 1
    recorder.stop()


def test_current_status_updates_the_connector_and_a_late_one_only_the_history(
    store: Store, recorder: Recorder
) -> None:
    recorder.status("cp-1", status(10, ConnectorStatus.PREPARING), current=True)
    recorder.status("cp-1", status(20, ConnectorStatus.CHARGING), current=True)
    recorder.status("cp-1", status(15, ConnectorStatus.SUSPENDED_EV), current=False)
    recorder.status("cp-1", status(5, ConnectorStatus.AVAILABLE, evse_id=2), current=True)
    recorder.flush_sync()

    assert store.connectors_of("cp-1") == [
        status(20, ConnectorStatus.CHARGING),
        status(5, ConnectorStatus.AVAILABLE, evse_id=2),
    ]
    assert ("cp-1", status(20, ConnectorStatus.CHARGING)) in store.load_connectors()
    assert len(store.status_history("cp-1")) == 4


def test_boot_auto_registers_an_unknown_charge_point_as_pending(
    store: Store, recorder: Recorder
) -> None:
    info = BootInfo("ACME", "Wallbox 11", serial_number="SN-1", firmware_version="1.2")
    recorder.seen("cp-new", at(-1))  # before the row exists: nothing to update, no error
    recorder.charge_point_boot("cp-new", "ocpp2.0.1", info, at(0))
    recorder.flush_sync()

    row = store.get_charge_point("cp-new")
    assert row is not None
    assert (row.registration, row.security_profile, row.password_hash) == ("Pending", 0, None)
    assert (row.vendor, row.model, row.serial_number, row.ocpp_version) == (
        "ACME",
        "Wallbox 11",
        "SN-1",
        "ocpp2.0.1",
    )
    assert row.last_boot_at == row.last_seen_at == row.created_at == at(0)
    assert recorder.failed_batches == 0


def test_boot_of_a_registered_charge_point_keeps_what_the_admin_set(
    store: Store, recorder: Recorder
) -> None:
    store.upsert_charge_point(
        ChargePointRow("cp-1", registration="Accepted", security_profile=2, password_hash="h")
    )
    created = store.get_charge_point("cp-1")
    assert created is not None
    recorder.charge_point_boot("cp-1", "ocpp1.6", BootInfo("ACME", "W", reason="PowerUp"), at(0))
    recorder.charge_point_boot("cp-1", "ocpp1.6", BootInfo("ACME", "W2"), at(10))
    recorder.flush_sync()

    row = store.get_charge_point("cp-1")
    assert row is not None
    assert (row.registration, row.security_profile, row.password_hash) == ("Accepted", 2, "h")
    assert (row.model, row.boot_reason, row.last_boot_at) == ("W2", None, at(10))
    assert row.created_at == created.created_at


def test_last_seen_only_moves_forward(store: Store, recorder: Recorder) -> None:
    recorder.charge_point_boot("cp-1", "ocpp1.6", BootInfo("ACME", "W"), at(0))
    recorder.flush_sync()
    recorder.seen("cp-1", at(50))
    recorder.seen("cp-1", at(30))
    recorder.flush_sync()
    recorder.seen("cp-1", at(40))
    recorder.flush_sync()
    row = store.get_charge_point("cp-1")
    assert row is not None and row.last_seen_at == at(50)


def test_settings_are_upserted_per_key(store: Store, recorder: Recorder) -> None:
    recorder.settings(
        "cp-1",
        [
            SettingRow("ignored", "HeartbeatInterval", "300", readonly=False),
            SettingRow("ignored", "Power", "11000", component="EVSE", instance="1"),
        ],
    )
    recorder.settings("cp-1", [SettingRow("cp-1", "HeartbeatInterval", "60", updated_at=at(5))])
    recorder.flush_sync()

    settings = {(s.component, s.variable): s for s in store.settings_of("cp-1")}
    assert set(settings) == {("", "HeartbeatInterval"), ("EVSE", "Power")}
    heartbeat = settings[("", "HeartbeatInterval")]
    assert (heartbeat.value, heartbeat.readonly, heartbeat.updated_at) == ("60", None, at(5))
    assert heartbeat.charge_point_id == "cp-1"
    assert settings[("EVSE", "Power")].instance == "1"
    assert settings[("EVSE", "Power")].attribute_type == "Actual"


def test_profiles_and_events_keep_their_json(store: Store, recorder: Recorder) -> None:
    profile = {
        "id": 7,
        "stack_level": 1,
        "purpose": "TxProfile",
        "transaction_id": "42",
        "schedule": {"unit": "A", "start_schedule": at(0), "periods": [(0, 16.0)]},
    }
    recorder.profile("cp-1", 1, profile, at(1), "Accepted", None)
    recorder.profile("cp-1", 1, {**profile, "id": 8}, at(2), None, "CommandTimeout: no answer")
    recorder.event("cp-1", "firmware_status", at(3), {"status": "Installed"})
    recorder.event("cp-1", "security_event", at(4), {"type": "TamperDetectionActivated"})
    recorder.flush_sync()

    newest, oldest = store.profiles_of("cp-1")
    assert (newest.profile_id, newest.status) == (8, None)
    assert newest.error == "CommandTimeout: no answer"
    assert (oldest.profile_id, oldest.stack_level, oldest.purpose) == (7, 1, "TxProfile")
    assert (oldest.transaction_id, oldest.evse_id, oldest.sent_at) == ("42", 1, at(1))
    assert oldest.profile["schedule"] == {
        "unit": "A",
        "start_schedule": at(0).isoformat(),
        "periods": [[0, 16.0]],
    }
    assert [e.kind for e in store.events_of("cp-1")] == ["security_event", "firmware_status"]
    assert store.events_of("cp-1", kind="firmware_status")[0].payload == {"status": "Installed"}


def test_samples_keep_all_their_fields(store: Store, recorder: Recorder) -> None:
    sample = MeterSample(at(3), ENERGY, 12.5, "kWh", "L1-N", "Transaction.End", "Outlet")
    recorder.samples("cp-1", 2, 1, "tx-1", [sample])
    recorder.flush_sync()
    assert store.samples_of("tx-1") == [sample]
