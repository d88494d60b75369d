"""Retention: old log rows are deleted in small transactions, so the database stays bounded.

Pruned (``[retention]`` settings in days; 0 keeps a table forever), by the ``timestamp`` column:

* ``ocpp_frames`` after ``frames_days``: when ems sent or received the frame;
* ``status_history`` after ``status_history_days``: the status time the charge point reported;
* ``charge_point_events`` after ``events_days``: when ems received the notification.

Never pruned, whatever their age: meter samples, transactions, charging profiles, control
cycles and limits, the payment ledger and receipts (billing and audit data).

How: the table is walked in primary-key order from its oldest row, ``batch_rows`` ids at a
time, and each slice's old rows are deleted in a transaction of their own (ids increase with
time, so the old rows are at the start). Every statement touches at most one slice of the
primary-key index, so SQLite's write lock is held for one slice at a time and PostgreSQL never
builds one large transaction; the recorder's batches get their turn in between. The walk stops
at the first slice with nothing to delete. A row whose timestamp is out of order (a status a
charge point queued offline, reported later with its old time) is therefore deleted once the
rows before it are, never earlier than its own age allows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table, delete, func, select

from ems.config import RetentionSettings
from ems.store import models as m
from ems.store.engine import writer

log = logging.getLogger(__name__)


def retained_tables(settings: RetentionSettings) -> list[tuple[Table, int]]:
    """The pruned tables with their retention [days] (0: kept forever)."""
    return [
        (m.ocpp_frames, settings.frames_days),
        (m.status_history, settings.status_history_days),
        (m.charge_point_events, settings.events_days),
    ]


def prune(
    engine: Engine,
    now: datetime,
    settings: RetentionSettings,
    stopping: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Delete the rows older than their table's retention at ``now``; rows deleted per table.

    ``stopping`` is asked before each slice: when it answers True, pruning ends there.
    """
    deleted: dict[str, int] = {}
    for table, days in retained_tables(settings):
        if days > 0:
            cutoff = now - timedelta(days=days)
            deleted[table.name] = prune_table(engine, table, cutoff, settings.batch_rows, stopping)
    return deleted


def prune_table(
    engine: Engine,
    table: Table,
    cutoff: datetime,
    batch_rows: int,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Delete the rows of ``table`` whose ``timestamp`` is before ``cutoff``, slice by slice."""
    ids, timestamps = table.c.id, table.c.timestamp
    total = 0
    start: int | None = None
    while not stopping():
        with engine.connect() as connection:
            query = select(func.min(ids))
            if start is not None:
                query = query.where(ids >= start)
            low = connection.execute(query).scalar()
        if low is None:
            return total
        end = low + batch_rows
        with writer(engine).begin() as connection:
            result = connection.execute(
                delete(table).where(ids >= low, ids < end, timestamps < cutoff)
            )
        if result.rowcount == 0:
            return total
        total += result.rowcount
        start = end
    return total


async def run_retention(
    engine: Engine, settings: RetentionSettings, clock: Callable[[], datetime]
) -> None:
    """Prune now and then every ``settings.interval_h`` hours, until cancelled.

    Once cancelled, a pruning still running in its thread stops after its current slice.
    """
    stopping = threading.Event()
    try:
        while True:
            try:
                deleted = await asyncio.to_thread(prune, engine, clock(), settings, stopping.is_set)
            except Exception:
                log.exception("pruning old log rows failed")
            else:
                if any(deleted.values()):
                    log.info("retention: deleted %s", deleted)
            await asyncio.sleep(settings.interval_h * 3600.0)
    finally:
        stopping.set()
