"""The dashboard's live view of the site: every EVSE and every controlled site, as JSON.

:class:`LiveFeed` follows the central system's events. It keeps only what the central system
does not keep itself, the latest meter readings per EVSE (power, current per phase, as the
control loop's :class:`~ems.control.measurements.Measurements` reduce them); everything else
(status, connection, running transaction, the limit in force) is read from the live state when
a view is built, so a view is never older than the moment it is built.

:meth:`LiveFeed.wait` wakes the WebSocket senders (:mod:`ems.web.socket`) as soon as an event
arrives, so a meter value reaches the browser within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ems.control.measurements import Measurements, Reading
from ems.events import (
    ChargePointConnected,
    ChargePointDisconnected,
    Event,
    MeterValuesReceived,
    StatusChanged,
    TransactionEnded,
    TransactionStarted,
)

if TYPE_CHECKING:
    from ems.app import Ems
    from ems.control.loop import ControlLoop
    from ems.domain import Transaction
    from ems.site import SiteConfig

# A reading older than this many control intervals (or than STALE_S without a site) is not
# shown as the present draw: the charger stopped reporting.
STALE_INTERVALS = 3
STALE_S = 60.0

EvseKey = tuple[str, int]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class LiveFeed:
    """Latest readings per EVSE, and views of every EVSE and site built from the live state."""

    def __init__(self, ems: Ems) -> None:
        self.ems = ems
        self.measurements = Measurements()
        self.version = 0
        self._wake = asyncio.Event()
        self._unsubscribe = ems.csms.subscribe(self.on_event)

    def close(self) -> None:
        """Stop following the central system's events."""
        self._unsubscribe()

    # ---- events ------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Take what an event tells and wake the senders (called on the event loop)."""
        if isinstance(event, MeterValuesReceived):
            self.measurements.add(event.charge_point_id, event.evse_id, event.samples)
        elif isinstance(event, TransactionEnded):
            tx = event.transaction
            # the next car starts from nothing; the ended one draws nothing
            self.measurements.clear(tx.charge_point_id, tx.evse_id)
        elif not isinstance(
            event,
            StatusChanged | TransactionStarted | ChargePointConnected | ChargePointDisconnected,
        ):
            return
        self.version += 1
        self._wake.set()
        self._wake = asyncio.Event()

    async def wait(self, seen_version: int, timeout_s: float) -> None:
        """Return when there is news after ``seen_version``, or after ``timeout_s``."""
        if self.version > seen_version:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout_s)

    # ---- views -------------------------------------------------------------------------------

    def _loops(self) -> dict[str, ControlLoop]:
        control = self.ems.control
        return dict(control.loops) if control is not None else {}

    def _fresh(self, reading: Reading | None, now: datetime, stale_s: float) -> bool:
        at = reading.measured_at if reading is not None else None
        return at is not None and at >= now - timedelta(seconds=stale_s)

    def evses(self) -> list[dict[str, Any]]:
        """Every EVSE of every registered charge point (and of every site), sorted by key."""
        csms = self.ems.csms
        now = csms.clock()
        loops = self._loops()
        site_of: dict[EvseKey, SiteConfig] = {}
        for loop in loops.values():
            for spec in loop.site.chargers:
                site_of[(spec.charge_point_id, spec.evse_id)] = loop.site
        keys: set[EvseKey] = set(site_of)
        for cp_id, cp_state in csms.charge_points.items():
            keys.update((cp_id, evse_id) for evse_id, _ in cp_state.connectors if evse_id >= 1)
        open_txs: dict[EvseKey, Transaction] = {
            (tx.charge_point_id, tx.evse_id): tx for tx in csms.open_transactions()
        }
        keys.update(open_txs)
        live_sites = self.ems.control.live if self.ems.control is not None else {}
        views = []
        for cp_id, evse_id in sorted(keys):
            state = csms.charge_points.get(cp_id)
            if state is None:
                continue  # a site charger not registered (yet)
            reports = [r for (e, _), r in state.connectors.items() if e == evse_id]
            report = max(reports, key=lambda r: r.timestamp) if reports else None
            tx = open_txs.get((cp_id, evse_id))
            site = site_of.get((cp_id, evse_id))
            stale_s = site.control.interval_s * STALE_INTERVALS if site else STALE_S
            reading = self.measurements.get(cp_id, evse_id)
            fresh = self._fresh(reading, now, stale_s)
            limit_a = max_current_a = None
            if site is not None:
                spec = site.charger(f"{cp_id}/{evse_id}")
                max_current_a = spec.max_current_a
                live = live_sites.get(site.id)
                charger = live.chargers.get(spec.key) if live is not None else None
                limit_a = charger.applied_limit_a if charger else None
            energy_wh = tx.energy_wh if tx else None
            views.append(
                {
                    "key": f"{cp_id}/{evse_id}",
                    "charge_point_id": cp_id,
                    "evse_id": evse_id,
                    "site_id": site.id if site else None,
                    "connected": cp_id in csms.sessions,
                    "status": report.status.value if report else None,
                    "error_code": report.error_code if report else None,
                    "status_at": _iso(report.timestamp) if report else None,
                    "transaction_pk": tx.id if tx else None,
                    "transaction_id": tx.transaction_id if tx else None,
                    "id_token": tx.id_token.id if tx and tx.id_token else None,
                    "started_at": _iso(tx.started_at) if tx else None,
                    "energy_kwh": None if energy_wh is None else round(energy_wh / 1000.0, 3),
                    "power_w": _round(reading.power_w) if fresh and reading else None,
                    "current_a": [_round(c, 2) for c in reading.current_a]
                    if fresh and reading
                    else [None, None, None],
                    "soc_percent": reading.soc_percent if fresh and reading else None,
                    "measured_at": _iso(reading.measured_at) if fresh and reading else None,
                    "limit_a": limit_a,
                    "max_current_a": max_current_a,
                }
            )
        return views

    def sites(self) -> list[dict[str, Any]]:
        """Each controlled site's load now against its capacity, in total and per site phase."""
        now = self.ems.csms.clock()
        return [self._site(loop, now) for loop in self._loops().values()]

    def _site(self, loop: ControlLoop, now: datetime) -> dict[str, Any]:
        site = loop.site
        stale_s = site.control.interval_s * STALE_INTERVALS
        ev_w = 0.0
        phase_a = [0.0, 0.0, 0.0]
        for spec in site.chargers:
            reading = self.measurements.get(spec.charge_point_id, spec.evse_id)
            if reading is None or not self._fresh(reading, now, stale_s):
                continue
            ev_w += reading.power_w or 0.0
            for charger_phase, site_phase in enumerate(spec.phases):
                current = reading.current_a[charger_phase]
                phase_a[site_phase] += current or 0.0
        other_kw = self._other_load_kw(site, now, stale_s, ev_w)
        limit_a, limit_kw = site.root.limits_by_slot([now], [1.0])[0]
        latest = loop.latest
        capacity_kw = latest.capacity_kw if latest is not None else None
        if capacity_kw is None and limit_kw is not None:
            capacity_kw = limit_kw
        if capacity_kw is None and limit_a is not None:
            capacity_kw = sum(limit_a) * site.voltage_v / 1000.0
        return {
            "id": site.id,
            "name": site.name,
            "at": now.isoformat(),
            "load_kw": round(ev_w / 1000.0 + (other_kw or 0.0), 3),
            "ev_kw": round(ev_w / 1000.0, 3),
            "other_kw": _round(other_kw, 3),
            "capacity_kw": _round(capacity_kw, 3),
            "phase_current_a": [round(a, 2) for a in phase_a],
            "phase_limit_a": list(limit_a) if limit_a is not None else None,
            "cycles": loop.cycles,
            "last_cycle_at": _iso(latest.started_at) if latest else None,
        }

    def _other_load_kw(
        self, site: SiteConfig, now: datetime, stale_s: float, ev_w: float
    ) -> float | None:
        """The non-EV load from the site meter (as the control loop takes it), if there is one."""
        meter = site.meter
        if meter is None or meter.charge_point_id is None:
            return None
        reading = self.measurements.get(meter.charge_point_id, meter.evse_id)
        if reading is None or reading.power_w is None or not self._fresh(reading, now, stale_s):
            return None
        total_w = reading.power_w - (ev_w if meter.measures == "total" else 0.0)
        return max(0.0, total_w / 1000.0)
