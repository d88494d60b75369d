"""Sessions ems recorded, as :class:`SessionRecord` s: what ``ems export-sessions`` writes.

Every finished transaction becomes a session: the station is the charger's key
(``{charge_point_id}/{evse_id}``, the ids site files use), arrival and departure are the
transaction's start and stop, the energy delivered its meter reading. The energy requested and
the announced departure are what the driver gave (``charging_needs``, when they gave it), else
the energy delivered and nothing, the convention of ACN-Data and acnportal. So the replay can run
ems's own history exactly like the published data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from ems.datasets.records import SessionRecord
from ems.store import Store

PAGE = 5000


def recorded_sessions(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    charge_point_id: str | None = None,
) -> Iterator[SessionRecord]:
    """Finished transactions started in [since, until), oldest pages first within each page."""
    offset = 0
    while True:
        page = store.list_transactions(
            active=False,
            since=since,
            until=until,
            charge_point_id=charge_point_id,
            limit=PAGE,
            offset=offset,
        )
        if not page:
            return
        needs = {
            row["transaction_pk"]: row for row in store.charging_needs_of([t.id for t in page])
        }
        for tx in reversed(page):  # oldest first within the page
            if tx.stopped_at is None or tx.stopped_at <= tx.started_at:
                continue
            delivered_kwh = (tx.energy_wh or 0.0) / 1000.0
            need = needs.get(tx.id, {})
            requested = need.get("energy_kwh")
            yield SessionRecord(
                session_id=tx.id,
                station_id=f"{tx.charge_point_id}/{tx.evse_id}",
                arrival=tx.started_at,
                departure=tx.stopped_at,
                energy_requested_kwh=delivered_kwh if requested is None else float(requested),
                energy_delivered_kwh=delivered_kwh,
                estimated_departure=need.get("departure_at"),
                id_token=tx.id_token.id if tx.id_token else None,
            )
        offset += PAGE
