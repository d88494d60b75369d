"""Turning a batch of recorder operations into a few executemany statements, and running them.

A batch is written as one statement per table (executemany over the batch's rows of that table)
in one database transaction, instead of one statement per operation: with every OCPP message
producing a frame, samples and a "seen" update, grouping only *consecutive* operations of a kind
would leave groups of one. Order still holds where it matters, within each table:

* append-only tables (frames, samples, status history, profiles, events) get their rows in call
  order, so ids ascend in call order;
* upserts keep the last state per key (the last transaction snapshot, the last current status,
  the last setting value, the last boot), which is what executing them in order would leave;
* ``last_seen_at`` only moves forward, so it does not matter whether a "seen" was called before or
  after a boot in the same batch.

Tables are independent (no foreign keys), so the order between tables is free.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Executable,
    Table,
    bindparam,
    insert,
    or_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from ems.domain import MeterSample
from ems.store import models as m
from ems.store.engine import upsert, upsert_max
from ems.store.types import UtcDateTime, to_utc

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs work too
    psycopg = None  # type: ignore[assignment]

# Operation kinds; an operation is a tuple (kind, payload).
(
    BOOT, SEEN, TRANSACTION, STATUS, SETTINGS, SAMPLES, FRAME, PROFILE, EVENT,
    CONTROL_CYCLE, CONTROL_LIMITS, CHARGING_NEED, COUNTER,
) = range(13)  # fmt: skip

Op = tuple[int, Any]

BOOT_COLUMNS = (
    "ocpp_version",
    "vendor",
    "model",
    "serial_number",
    "firmware_version",
    "iccid",
    "imsi",
    "meter_type",
    "meter_serial_number",
    "boot_reason",
    "last_boot_at",
    "last_seen_at",
)
SETTING_KEY = ("charge_point_id", "component", "evse_id", "variable", "instance", "attribute_type")
CONNECTOR_KEY = ("charge_point_id", "evse_id", "connector_id")


@dataclass(slots=True)
class Step:
    """One statement executed with many rows; ``bulk`` if the table's rows go through its bulk
    appender instead (COPY on PostgreSQL, the driver's executemany on SQLite)."""

    table: str
    statement: Executable
    rows: list[Any]
    bulk: bool = False


class BatchWriter:
    """Writes batches of operations for one engine; statements are built once per dialect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._boot = upsert(dialect, m.charge_points, ["id"], BOOT_COLUMNS)
        cp = m.charge_points
        ts = bindparam("b_ts", type_=UtcDateTime())
        self._seen = (
            update(cp)
            .where(cp.c.id == bindparam("b_id"))
            .where(or_(cp.c.last_seen_at.is_(None), cp.c.last_seen_at < ts))
            .values(last_seen_at=ts)
        )
        tx_columns = [c.name for c in m.transactions.c if c.name != "id"]
        self._transaction = upsert(dialect, m.transactions, ["id"], tx_columns)
        self._connector = upsert(
            dialect, m.connectors, CONNECTOR_KEY, ["status", "error_code", "info", "status_at"]
        )
        self._settings = upsert(
            dialect, m.charge_point_settings, SETTING_KEY, ["value", "readonly", "updated_at"]
        )
        self._history = insert(m.status_history)
        self._samples = insert(m.meter_samples)
        self._frames = insert(m.ocpp_frames)
        self._profiles = insert(m.charging_profiles)
        self._events = insert(m.charge_point_events)
        self._cycles = insert(m.control_cycles)
        self._limits = insert(m.control_limits)
        self._counter = upsert_max(dialect, m.counters)
        needs_columns = [c.name for c in m.charging_needs.c if c.name != "transaction_pk"]
        self._needs = upsert(dialect, m.charging_needs, ["transaction_pk"], needs_columns)
        # The append-only tables that take nearly all rows. On PostgreSQL they are written with
        # COPY: about three times less CPU per row than psycopg's pipelined executemany.
        bulk = Copier if dialect == "postgresql" else SqliteAppender
        self._copiers: dict[str, Copier | SqliteAppender] = {
            t.name: bulk(t) for t in (m.meter_samples, m.ocpp_frames, m.status_history)
        }

    def write(self, ops: Sequence[Op]) -> None:
        """Write ``ops`` in one transaction, or nothing of them: any error is raised (the
        recorder decides what to retry and what to give up)."""
        steps = self.plan(ops)
        if not steps:
            return
        with self.engine.begin() as connection:
            for step in steps:
                copier = self._copiers.get(step.table) if step.bulk else None
                if copier is None:
                    connection.execute(step.statement, step.rows)
                else:
                    copier.copy(connection, step.rows)

    def plan(self, ops: Sequence[Op]) -> list[Step]:
        """Group ``ops`` into one step per statement; see the module docstring for the order.

        A malformed operation raises ValueError (it is a bug; the recorder isolates it)."""
        boots: dict[str, dict[str, Any]] = {}
        seen: dict[str, Any] = {}
        transactions: dict[str, dict[str, Any]] = {}
        connectors: dict[tuple[Any, ...], dict[str, Any]] = {}
        settings: dict[tuple[Any, ...], dict[str, Any]] = {}
        history: list[dict[str, Any]] = []
        samples: list[tuple[Any, ...]] = []
        frames: list[dict[str, Any]] = []
        profiles: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        cycles: list[dict[str, Any]] = []
        limits: list[dict[str, Any]] = []
        needs: dict[str, dict[str, Any]] = {}
        counters: dict[str, int] = {}
        for kind, payload in ops:
            try:
                if kind == SAMPLES:
                    samples.extend(_sample_rows(*payload))
                elif kind == FRAME:
                    frames.append(payload)
                elif kind == SEEN:
                    cp_id, timestamp = payload
                    if cp_id not in seen or seen[cp_id] < timestamp:
                        seen[cp_id] = timestamp
                elif kind == STATUS:
                    values, current, current_at = payload
                    history.append(values)
                    if current:
                        connectors[
                            (values["charge_point_id"], values["evse_id"], values["connector_id"])
                        ] = {**values, "timestamp": current_at}
                elif kind == TRANSACTION:
                    transactions[payload["id"]] = payload
                elif kind == BOOT:
                    boots[payload["id"]] = payload
                elif kind == SETTINGS:
                    for row in payload:
                        settings[tuple(row[k] for k in SETTING_KEY)] = row
                elif kind == PROFILE:
                    profiles.append(payload)
                elif kind == EVENT:
                    events.append(payload)
                elif kind == CONTROL_CYCLE:
                    cycles.append(payload)
                elif kind == CONTROL_LIMITS:
                    limits.extend(payload)
                elif kind == CHARGING_NEED:
                    needs[payload["transaction_pk"]] = payload
                elif kind == COUNTER:
                    name, value = payload
                    counters[name] = max(value, counters.get(name, value))
                else:
                    raise ValueError(f"unknown recorder operation kind {kind}")
            except (TypeError, KeyError, IndexError, AttributeError) as error:
                raise ValueError(f"malformed operation {kind}: {payload!r:.200}") from error
        steps = [
            Step("charge_points", self._boot, list(boots.values())),
            Step("charge_points", self._seen, [{"b_id": k, "b_ts": v} for k, v in seen.items()]),
            Step("transactions", self._transaction, list(transactions.values())),
            Step("connectors", self._connector, [_connector_row(v) for v in connectors.values()]),
            Step("charge_point_settings", self._settings, list(settings.values())),
            Step("status_history", self._history, history, bulk=True),
            Step("meter_samples", self._samples, samples, bulk=True),
            Step("ocpp_frames", self._frames, frames, bulk=True),
            Step("charging_profiles", self._profiles, profiles),
            Step("charge_point_events", self._events, events),
            Step("control_cycles", self._cycles, cycles),
            Step("control_limits", self._limits, limits),
            Step("charging_needs", self._needs, list(needs.values())),
            Step("counters", self._counter, [{"name": k, "value": v} for k, v in counters.items()]),
        ]
        return [step for step in steps if step.rows]

class SqliteAppender:
    """Appends rows of a table on SQLite with the driver's own executemany (all columns but
    ``id``): the statement is prepared once per batch and no row passes through SQLAlchemy's
    per-row parameter processing, which was half of the writer's time."""

    def __init__(self, table: Table) -> None:
        columns, self.values = _bulk_layout(table)
        names = ", ".join(f'"{c.name}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        self.sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
        self.timestamps = [i for i, c in enumerate(columns) if isinstance(c.type, UtcDateTime)]

    def copy(self, connection: Connection, rows: list[Any]) -> None:
        values, timestamps = self.values, self.timestamps
        formatted: dict[datetime, str] = {}  # the samples of a reading share their time
        prepared = []
        for row in rows:
            row_values = list(values(row))
            for i in timestamps:  # as UtcDateTime stores them; a naive one raises
                at = row_values[i]
                text = formatted.get(at)
                if text is None or at.tzinfo is None:
                    text = formatted[at] = to_utc(at).replace(tzinfo=None).isoformat(
                        " ", "microseconds"
                    )
                row_values[i] = text
            prepared.append(row_values)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self.sql, prepared)
        finally:
            cursor.close()


class Copier:
    """Writes rows of a table with PostgreSQL's COPY (all columns but ``id``)."""

    def __init__(self, table: Table) -> None:
        columns, self.values = _bulk_layout(table)
        quote = postgresql.dialect().identifier_preparer.quote
        self.sql = (
            f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) FROM STDIN"
        )
        # COPY goes around UtcDateTime; psycopg sends aware datetimes with their offset, but
        # naive ones would be taken as the session's local time, so those are refused here
        self.timestamps = [i for i, c in enumerate(columns) if isinstance(c.type, UtcDateTime)]

    def copy(self, connection: Connection, rows: list[Any]) -> None:
        values, timestamps = self.values, self.timestamps
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(self.sql) as copy:
            for row in rows:
                row_values = values(row)
                for i in timestamps:
                    if row_values[i].tzinfo is None:
                        raise ValueError(f"naive datetime in {row!r}: pass an aware datetime")
                copy.write_row(row_values)


SAMPLE_COLUMNS = (
    "charge_point_id", "transaction_pk", "evse_id", "connector_id", "timestamp", "measurand",
    "value", "unit", "phase", "context", "location",
)  # fmt: skip


def _sample_rows(
    charge_point_id: str,
    evse_id: int,
    connector_id: int,
    transaction_pk: str | None,
    samples: Sequence[MeterSample],
) -> list[tuple[Any, ...]]:
    """Rows of ``meter_samples`` as tuples in SAMPLE_COLUMNS order (the hot path: no dicts)."""
    head = (charge_point_id, transaction_pk, evse_id, connector_id)
    return [
        (*head, s.timestamp, s.measurand, s.value, s.unit, s.phase, s.context, s.location)
        for s in samples
    ]


def _bulk_layout(table: Table) -> tuple[list[Column[Any]], Callable[[Any], Sequence[Any]]]:
    """A bulk appender's columns (all but ``id``) and how a row gives its values in their
    order: sample rows come as tuples in that order already (SAMPLE_COLUMNS), others as dicts.
    """
    columns = [c for c in table.c if c.name != "id"]
    if table.name != "meter_samples":
        return columns, operator.itemgetter(*(c.name for c in columns))
    if tuple(c.name for c in columns) != SAMPLE_COLUMNS:
        raise RuntimeError("meter_samples columns differ from SAMPLE_COLUMNS: update both")
    return columns, _same


def _same(row: Any) -> Any:
    return row


def _connector_row(status: dict[str, Any]) -> dict[str, Any]:
    row = dict(status)
    row["status_at"] = row.pop("timestamp")
    return row


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says the database is unavailable (gone, locked, restarting, out of
    space), so that the same writes may succeed later, rather than refusing the data."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, sqlite3.OperationalError):
        return True
    return psycopg is not None and isinstance(
        error, psycopg.OperationalError | psycopg.InterfaceError
    )
