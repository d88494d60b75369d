"""Engine creation and the few dialect-specific statements (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from ems.store.types import json_dumps

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """Create the engine for ``url``; for an SQLite file, create its directory and tune it.

    SQLite runs in WAL mode and waits ``SQLITE_BUSY_TIMEOUT_MS`` for locks instead of failing,
    since the recorder thread and the API write concurrently. ``sqlite_synchronous`` FULL syncs
    the WAL at every commit, so a commit survives a power cut; NORMAL survives a crash of the
    process only. The recorder's group commit shares one sync among a whole batch.
    """
    if sqlite_synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"sqlite_synchronous must be FULL or NORMAL, not {sqlite_synchronous!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
            raise ValueError(
                f"in-memory SQLite ({url}) is not supported: the recorder writes from its own "
                "thread and would see another database; use a file, e.g. sqlite:///var/ems.db"
            )
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=json_dumps)
        event.listen(engine, "connect", functools.partial(_tune_sqlite, sqlite_synchronous))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, json_serializer=json_dumps, pool_pre_ping=True)


def _tune_sqlite(synchronous: str, dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module (which would only BEGIN before DML and so
    # leave DDL outside transactions); SQLAlchemy's "begin" event emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".rstrip())


def writer(engine: Engine) -> Engine:
    """``engine`` for transactions that read, then write: on SQLite they BEGIN IMMEDIATE.

    A deferred SQLite transaction that has read and then wants to write while another
    connection writes fails at once with "database is locked" (waiting could deadlock, so the
    busy timeout does not apply); taking the write lock at BEGIN makes it wait its turn instead.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def upsert(
    dialect_name: str,
    table: Table,
    keys: Sequence[str],
    update: Iterable[str],
    coalesce: Iterable[str] = (),
) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE for executemany with one dict per row.

    Columns in ``update`` take the new value; columns in ``coalesce`` keep the stored value
    unless it is NULL.
    """
    if dialect_name == "postgresql":
        stmt: postgresql.Insert | sqlite.Insert = postgresql.insert(table)
    elif dialect_name == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise ValueError(f"unsupported database {dialect_name!r}: use sqlite or postgresql")
    values: dict[str, Any] = {name: stmt.excluded[name] for name in update}
    for name in coalesce:
        values[name] = func.coalesce(table.c[name], stmt.excluded[name])
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=values)


def upsert_max(dialect_name: str, table: Table) -> Insert:
    """INSERT (name, value) ... ON CONFLICT (name) DO UPDATE to the larger of both values."""
    if dialect_name == "postgresql":
        stmt: postgresql.Insert | sqlite.Insert = postgresql.insert(table)
        larger = func.greatest(table.c.value, stmt.excluded.value)
    elif dialect_name == "sqlite":
        stmt = sqlite.insert(table)
        larger = func.max(table.c.value, stmt.excluded.value)
    else:
        raise ValueError(f"unsupported database {dialect_name!r}: use sqlite or postgresql")
    return stmt.on_conflict_do_update(index_elements=["name"], set_={"value": larger})
