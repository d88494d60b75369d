"""Fixtures of the store tests: a migrated ``Store`` on SQLite and on PostgreSQL, a recorder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ems.store import Recorder, Store
from ems.store.models import Base
from tests.dbs import postgres_database, sqlite_url


@pytest.fixture(scope="session")
def postgres_store_url() -> Iterator[str]:
    """One fresh PostgreSQL database for the session's store tests, migrated once."""
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        store.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        store = Store(sqlite_url(tmp_path))
        store.migrate()
    else:
        store = Store(request.getfixturevalue("postgres_store_url"))
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with store.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
    yield store
    store.dispose()


@pytest.fixture
def recorder(store: Store) -> Iterator[Recorder]:
    """A running recorder on ``store`` with a short flush interval; stopped (drained) after."""
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    yield recorder
    recorder.stop()
