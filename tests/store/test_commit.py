"""Commit before acknowledge: units of writes, group commit, isolation of bad rows, outages
and backpressure, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import event, select, text

from ems.store import Recorder, Store
from ems.store import models as m
from ems.store.units import WriteFailed
from tests.dbs import sqlite_url
from tests.store.helpers import at, energy, transaction


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Any:
    """Faults are injected at the cursor, which PostgreSQL's COPY path does not pass."""
    store = Store(sqlite_url(tmp_path))
    store.migrate()
    yield store
    store.dispose()


async def commit_samples(recorder: Recorder, cp: str, n: int, value: float = 1.0) -> None:
    """Write ``n`` samples of ``cp`` as one unit and wait for their commit."""
    with recorder.unit() as unit:
        recorder.samples(cp, 1, 1, None, [energy(i, value + i) for i in range(n)])
    await recorder.commit(unit)


def samples_of(store: Store, cp: str) -> int:
    with store.engine.connect() as connection:
        query = select(m.meter_samples.c.id).where(m.meter_samples.c.charge_point_id == cp)
        return len(connection.execute(query).all())


async def test_a_committed_unit_is_in_the_database_when_commit_returns(
    store: Store, recorder: Recorder
) -> None:
    with recorder.unit() as unit:
        recorder.transaction(transaction())
        recorder.samples("cp-1", 1, 1, "tx-1", [energy(0, 1.0), energy(60, 2.0)])
    assert unit.sealed and len(unit.ops) == 2
    assert store.get_transaction("tx-1") is None  # collected, not queued yet
    await recorder.commit(unit)
    assert store.get_transaction("tx-1") is not None
    assert samples_of(store, "cp-1") == 2


async def test_writes_after_the_unit_closed_are_not_part_of_it(
    store: Store, recorder: Recorder
) -> None:
    with recorder.unit() as unit:
        recorder.samples("cp-1", 1, 1, None, [energy(0, 1.0)])
    recorder.samples("cp-2", 1, 1, None, [energy(0, 1.0)])  # outside: queued on its own
    assert len(unit.ops) == 1
    await recorder.commit(unit)
    await recorder.barrier()
    assert samples_of(store, "cp-2") == 1


async def test_writes_in_a_thread_the_unit_awaits_belong_to_it(recorder: Recorder) -> None:
    with recorder.unit() as unit:
        await asyncio.to_thread(recorder.samples, "cp-1", 1, 1, None, [energy(0, 1.0)])
        other = threading.Thread(target=recorder.samples, args=("cp-2", 1, 1, None, []))
        other.start()  # a thread of its own has no unit
        other.join()
    assert [op[1][0] for op in unit.ops] == ["cp-1"]


async def test_a_bad_row_fails_only_its_own_unit_and_every_other_unit_is_committed(
    store: Store,
) -> None:
    recorder = Recorder(store, flush_interval_s=0.01)
    units = []
    for n in range(40):  # queued while the writer is not running: all in one batch
        with recorder.unit() as unit:
            recorder.samples(f"cp-{n}", 1, 1, None, [energy(0, float(n))])
            if n == 17:
                recorder.frame(f"cp-{n}", "sideways", at(0), "breaks the direction check")
        units.append(unit)
    for unit in units:
        unit.watch_async()
        recorder.submit(unit)
    recorder.start()
    try:
        results = await asyncio.gather(*(u.wait() for u in units), return_exceptions=True)
    finally:
        recorder.stop()
    failed = [n for n, result in enumerate(results) if isinstance(result, Exception)]
    assert failed == [17]
    assert isinstance(results[17], WriteFailed)
    assert samples_of(store, "cp-17") == 0  # the unit is all or nothing
    assert all(samples_of(store, f"cp-{n}") == 1 for n in range(40) if n != 17)
    assert recorder.failed_batches == 1


async def test_an_unavailable_database_is_retried_and_nothing_is_acknowledged_meanwhile(
    sqlite_store: Store,
) -> None:
    store = sqlite_store
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    outage = threading.Event()
    outage.set()
    attempts: list[int] = []

    def refuse(*_args: Any) -> None:
        if outage.is_set():
            attempts.append(1)
            raise sqlite3.OperationalError("database is locked")

    event.listen(store.engine, "before_cursor_execute", refuse)
    try:
        waiting = asyncio.ensure_future(commit_samples(recorder, "cp-1", 3))
        while len(attempts) < 3:  # noqa: ASYNC110 - the writer thread keeps trying
            await asyncio.sleep(0.01)
        assert not waiting.done()
        outage.clear()
        await waiting
    finally:
        event.remove(store.engine, "before_cursor_execute", refuse)
        recorder.stop()
    assert samples_of(store, "cp-1") == 3


async def test_stop_gives_up_on_a_database_that_stays_away_and_tells_the_waiters(
    sqlite_store: Store,
) -> None:
    store = sqlite_store
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()

    def refuse(*_args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    event.listen(store.engine, "before_cursor_execute", refuse)
    try:
        waiting = asyncio.ensure_future(commit_samples(recorder, "cp-1", 2))
        recorder.frame("cp-1", "in", at(0), "not waited for")
        await asyncio.sleep(0)
        given_up = await asyncio.to_thread(recorder.stop, 0.2)
        with pytest.raises(WriteFailed):
            await waiting
    finally:
        event.remove(store.engine, "before_cursor_execute", refuse)
    assert given_up == 2  # the unit's one operation and the frame
    assert recorder.pending == 0


async def test_room_waits_while_the_backlog_is_full_and_returns_once_it_drains(
    store: Store,
) -> None:
    recorder = Recorder(store, flush_interval_s=60, batch_size=1_000_000, max_backlog=100)
    recorder.start()
    try:
        await recorder.room()  # empty: at once
        for i in range(100):
            recorder.frame("cp-1", "in", at(i), "x")
        room = asyncio.ensure_future(recorder.room())
        await asyncio.sleep(0.05)
        assert not room.done()  # 100 queued, the writer waits for its 60 s interval
        await recorder.barrier()  # someone waits: the writer writes now
        await asyncio.wait_for(room, 10)
        assert recorder.backlog_max == 100
    finally:
        recorder.stop()


def test_a_counter_only_moves_up(store: Store, recorder: Recorder) -> None:
    recorder.counter("c", 5)
    recorder.counter("c", 3)
    recorder.flush_sync()
    recorder.counter("c", 4)
    recorder.flush_sync()
    with store.engine.connect() as connection:
        value = connection.execute(
            select(m.counters.c.value).where(m.counters.c.name == "c")
        ).scalar_one()
    assert value == 5


def test_last_1_6_transaction_id_comes_from_the_counter_even_without_transactions(
    store: Store, recorder: Recorder
) -> None:
    assert store.last_ocpp16_transaction_id() == 0
    recorder.counter("ocpp16_transaction_id", 41)
    recorder.flush_sync()
    assert store.last_ocpp16_transaction_id() == 41


async def test_a_postgresql_connection_killed_mid_stream_loses_nothing_committed(
    postgres_store_url: str,
) -> None:
    store = Store(postgres_store_url)
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM meter_samples WHERE charge_point_id = 'cp-kill'"))
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    try:
        await commit_samples(recorder, "cp-kill", 5)
        with store.engine.connect() as admin:  # the database's own disconnect
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        await asyncio.gather(
            *(commit_samples(recorder, "cp-kill", 5, 100.0 * n) for n in range(1, 11))
        )
        assert samples_of(store, "cp-kill") == 55
    finally:
        recorder.stop()
        store.dispose()
