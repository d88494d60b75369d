"""Fixtures of the statistics tests: a migrated store on SQLite and PostgreSQL, seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ems.store import Recorder, Store
from tests.stats.seed import seed
from tests.store.conftest import postgres_store_url, store

__all__ = ["postgres_store_url", "store"]


@pytest.fixture
def seeded(store: Store) -> Iterator[Store]:
    """``store`` (each backend) holding the dataset of :mod:`tests.stats.seed`."""
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    try:
        seed(recorder)
    finally:
        recorder.stop()
    yield store
