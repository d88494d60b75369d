"""The stored state of a charger's local list: a revocation marked while a sync runs is never
undone by the sync saving the state it read before (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ems.identity.repository import TokenRepository
from ems.store import Store

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.migrate()
    yield store
    store.dispose()


def test_a_revocation_marked_during_a_sync_survives_the_sync_saving_its_state(
    store: Store,
) -> None:
    repository = TokenRepository(store.engine)
    repository.mark_cache_clear_pending(["CP-A"], NOW)
    repository.cache_clear_started("CP-A", NOW)
    read_by_sync = repository.list_state("CP-A")  # the sync reads: nothing pending
    assert not read_by_sync.cache_clear_pending
    repository.mark_cache_clear_pending(["CP-A"], NOW)  # a token is revoked meanwhile
    repository.save_state(replace(read_by_sync, version=4, status="Accepted"), NOW)
    repository.save_entries("CP-A", replace(read_by_sync, version=5), {}, [], full=False, now=NOW)
    state = repository.list_state("CP-A")
    assert (state.version, state.cache_clear_pending) == (5, True)


def test_a_new_list_state_keeps_what_it_is_saved_with(store: Store) -> None:
    repository = TokenRepository(store.engine)
    fresh = repository.list_state("CP-B")
    repository.save_state(replace(fresh, version=1, cache_clear_pending=True), NOW)
    assert repository.list_state("CP-B").cache_clear_pending
