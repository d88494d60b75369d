"""Fixtures of the payment tests: a migrated database on SQLite and on PostgreSQL, a ledger on it
with a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ems.payments import Ledger
from ems.store import Store
from tests.dbs import postgres_database, sqlite_url

PAYMENT_TABLES = (
    "payment_idempotency_keys",
    "payments",
    "payment_entries",
    "payment_journals",
    "payment_holds",
    "payment_accounts",
)


class ManualClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def clear_payments(engine: Engine) -> None:
    """Empty the payment tables (children first, so foreign keys hold on both databases)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(f"TRUNCATE {', '.join(PAYMENT_TABLES)} RESTART IDENTITY CASCADE")
            )
        else:
            for table in PAYMENT_TABLES:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def postgres_payments_url() -> Iterator[str]:
    """One fresh PostgreSQL database for the session's payment tests, migrated once."""
    with postgres_database() as url:
        store = Store(url)
        store.migrate()
        store.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store with empty payment tables on each backend."""
    if request.param == "sqlite":
        store = Store(sqlite_url(tmp_path))
        store.migrate()
    else:
        store = Store(request.getfixturevalue("postgres_payments_url"))
        clear_payments(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ledger(store: Store, clock: ManualClock) -> Ledger:
    return Ledger(store.engine, clock=clock)
