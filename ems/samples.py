"""Each identical meter sample is stored once, however often a charge point sends it.

Charge points repeat samples: a 2.0.1 ``Ended`` event or a 1.6 ``StopTransaction`` carries
readings already sent periodically, and a message whose answer was lost (ems stopped between
committing it and answering) is sent again. A sample is a repeat when every field matches one
already stored for the same charge point, EVSE and transaction.

Checking costs nearly nothing on the usual path: per scope (charge point, EVSE, transaction)
only the latest timestamp and the samples at it are kept in memory, and samples newer than that
are new. Samples at or before it (a repeat, a late offline queue, the first message after a
restart) are checked against the database, which holds everything acknowledged so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from ems.domain import MeterSample
from ems.store import Store

Scope = tuple[str, int, str | None]
"""(charge point id, EVSE id, ems's transaction id or None outside a transaction)."""

SampleKey = tuple[datetime, str, float, str | None, str | None, str | None, str | None, int]
_BEFORE_ALL = datetime.min.replace(tzinfo=UTC)


def sample_key(sample: MeterSample, connector_id: int) -> SampleKey:
    return (
        sample.timestamp,
        sample.measurand,
        sample.value,
        sample.unit,
        sample.phase,
        sample.context,
        sample.location,
        connector_id,
    )


class SampleDedupe:
    """Filters out samples already stored (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # scope -> (latest timestamp stored, keys of the samples stored at it)
        self._marks: dict[Scope, tuple[datetime, set[SampleKey]]] = {}

    def begin(self, scope: Scope) -> None:
        """A new transaction: nothing of it can be stored yet, so skip the database check."""
        self._marks[scope] = (_BEFORE_ALL, set())

    def end(self, scope: Scope) -> None:
        self._marks.pop(scope, None)

    def forget(self, charge_point_id: str) -> None:
        """A message of this charge point could not be stored: what was marked as stored may
        not be, so its next samples are checked against the database."""
        for scope in [s for s in self._marks if s[0] == charge_point_id]:
            del self._marks[scope]

    async def new_only(
        self, scope: Scope, connector_id: int, samples: Sequence[MeterSample]
    ) -> list[MeterSample]:
        """The samples of ``samples`` not stored yet, in their order, each once."""
        if not samples:
            return []
        mark = self._marks.get(scope)
        keyed = [(sample, sample_key(sample, connector_id)) for sample in samples]
        first = min(s.timestamp for s in samples)
        latest = max(s.timestamp for s in samples)
        stored: set[SampleKey] = set()
        if mark is None or first <= mark[0]:
            stored = await asyncio.to_thread(self.store.sample_keys, scope, first, latest)
        at_mark = mark[1] if mark is not None else set()
        fresh: list[MeterSample] = []
        seen: set[SampleKey] = set()
        for sample, key in keyed:
            if key in seen or key in stored or key in at_mark:
                continue
            seen.add(key)
            fresh.append(sample)
        self._advance(scope, mark, latest, keyed)
        return fresh

    def _advance(
        self,
        scope: Scope,
        mark: tuple[datetime, set[SampleKey]] | None,
        latest: datetime,
        keyed: list[tuple[MeterSample, SampleKey]],
    ) -> None:
        """Move the scope's mark to ``latest`` (the newest of ``keyed``), if it is not older."""
        if mark is not None and latest < mark[0]:
            return  # all older than what is marked: the mark stands
        keys = {key for sample, key in keyed if sample.timestamp == latest}
        if mark is not None and mark[0] == latest:
            keys |= mark[1]
        self._marks[scope] = (latest, keys)
