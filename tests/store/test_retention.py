"""Retention on SQLite and PostgreSQL: old log rows go, slice by slice; billing data stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, insert, select

from ems.app import Ems, EmsServer
from ems.config import RetentionSettings
from ems.store import Store
from ems.store import models as m
from ems.store.retention import prune
from tests.conftest import make_settings
from tests.dbs import sqlite_url

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def add(store: Store, table: Table, rows: list[dict[str, Any]]) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(table), rows)


def frame(age_days: float) -> dict[str, Any]:
    return {
        "charge_point_id": "cp-1",
        "direction": "in",
        "timestamp": days_ago(age_days),
        "message": f'[2,"{age_days}","Heartbeat",{{}}]',
    }


def status(age_days: float) -> dict[str, Any]:
    return {
        "charge_point_id": "cp-1",
        "evse_id": 1,
        "connector_id": 1,
        "status": "Available",
        "error_code": None,
        "info": None,
        "timestamp": days_ago(age_days),
    }


def event(age_days: float) -> dict[str, Any]:
    return {
        "charge_point_id": "cp-1",
        "kind": "security_event",
        "timestamp": days_ago(age_days),
        "payload": {"type": "StartupOfTheDevice"},
    }


def ages(store: Store, table: Table) -> list[float]:
    """Age [days] of every row left, in id order."""
    with store.engine.connect() as connection:
        stamps = connection.execute(select(table.c.timestamp).order_by(table.c.id)).scalars()
        return [(NOW - stamp) / timedelta(days=1) for stamp in stamps]


def count(store: Store, table: Table) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_rows_past_their_tables_retention_are_deleted_in_slices(store: Store) -> None:
    add(store, m.ocpp_frames, [frame(age) for age in range(60, -1, -3)])  # oldest first
    add(store, m.status_history, [status(age) for age in (800, 400, 366, 364, 10)])
    add(store, m.charge_point_events, [event(age) for age in (500, 100)])
    settings = RetentionSettings(frames_days=30, events_days=90, batch_rows=4)
    deleted = prune(store.engine, NOW, settings)
    assert deleted == {"ocpp_frames": 10, "status_history": 3, "charge_point_events": 2}
    assert ages(store, m.ocpp_frames) == list(range(30, -1, -3))
    assert ages(store, m.status_history) == [364, 10]
    assert ages(store, m.charge_point_events) == []
    assert prune(store.engine, NOW, settings) == {
        "ocpp_frames": 0,
        "status_history": 0,
        "charge_point_events": 0,
    }


def test_zero_days_keeps_a_table_forever(store: Store) -> None:
    add(store, m.ocpp_frames, [frame(10_000)])
    add(store, m.status_history, [status(10_000)])
    settings = RetentionSettings(frames_days=0, status_history_days=0, events_days=0)
    assert prune(store.engine, NOW, settings) == {}
    assert count(store, m.ocpp_frames) == count(store, m.status_history) == 1


def test_billing_and_control_data_are_never_pruned(store: Store) -> None:
    old = days_ago(10 * 365)
    add(
        store,
        m.meter_samples,
        [
            {
                "charge_point_id": "cp-1",
                "transaction_pk": "tx-1",
                "evse_id": 1,
                "connector_id": 1,
                "timestamp": old,
                "measurand": "Energy.Active.Import.Register",
                "value": 1000.0,
                "unit": "Wh",
                "phase": None,
                "context": None,
                "location": None,
            }
        ],
    )
    add(
        store,
        m.control_cycles,
        [
            {
                "site_id": "depot",
                "started_at": old,
                "trigger": "timer",
                "duration_ms": 1.0,
                "solve_ms": 1.0,
                "status": "optimal",
                "solver": "highs",
                "sessions": 0,
                "chargers": 0,
                "limits_sent": 0,
                "capacity_kw": None,
                "planned_kw": 0.0,
                "measured_kw": None,
                "unmet_kwh": 0.0,
                "energy_cost": 0.0,
                "notes": {},
            }
        ],
    )
    prune(store.engine, NOW, RetentionSettings(frames_days=1, status_history_days=1, events_days=1))
    assert count(store, m.meter_samples) == count(store, m.control_cycles) == 1


def test_late_rows_with_old_timestamps_are_deleted_once_the_rows_before_them_are(
    store: Store,
) -> None:
    """Statuses a charger queued offline arrive late with their old time, between new rows."""
    add(store, m.status_history, [status(age) for age in (400, 10, 500, 10, 10, 10, 600)])
    settings = RetentionSettings(batch_rows=2)
    assert prune(store.engine, NOW, settings)["status_history"] == 2  # 400 and 500
    # ids 5-6 are a slice with nothing to delete: the walk ends there, before the row of 600
    assert ages(store, m.status_history) == [10, 10, 10, 10, 600]
    add(store, m.status_history, [status(700)])
    assert prune(store.engine, NOW, RetentionSettings(batch_rows=10))["status_history"] == 2


def test_a_prune_asked_to_stop_stops_before_its_next_slice(store: Store) -> None:
    add(store, m.ocpp_frames, [frame(100) for _ in range(10)])
    slices = iter([False, False, True])
    deleted = prune(
        store.engine, NOW, RetentionSettings(batch_rows=3), stopping=lambda: next(slices, True)
    )
    assert deleted["ocpp_frames"] == 6


async def test_ems_prunes_at_start_with_its_own_clock(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    store = Store(url)
    store.migrate()
    add(store, m.ocpp_frames, [frame(45), frame(5)])
    server = EmsServer(Ems(make_settings(url, retention={"frames_days": 30}), clock=lambda: NOW))
    await server.start()
    try:
        for _ in range(500):  # a failure guard, not a time limit: the first pruning is at start
            if count(store, m.ocpp_frames) == 1:
                break
            await asyncio.sleep(0.01)
    finally:
        await server.stop()
    assert ages(store, m.ocpp_frames) == [5]
    store.dispose()
