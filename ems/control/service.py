"""The live control of every configured site: loops, their OCPP side, and the cycle log.

:class:`ControlService` is what ``ems serve`` and ``ems demo`` start: one
:class:`~ems.control.live.LiveSite` and one :class:`~ems.control.loop.ControlLoop` per site
file in ``control.sites``; the REST API reads the latest plans from it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ems.control.forecast import HISTORY, HistoryForecast
from ems.control.live import LiveSite
from ems.control.loop import ControlLoop, CycleResult, plan_summary
from ems.store import Recorder, Store

if TYPE_CHECKING:
    from ems.csms import CentralSystem
    from ems.site import SiteConfig

log = logging.getLogger(__name__)

# The departure/energy forecasts are refitted on the newest history this often [s].
REFIT_INTERVAL_S = 24 * 3600.0


class StoreSink:
    """Writes each cycle and the limits it sent through the recorder (batched, off the loop)."""

    def __init__(self, recorder: Recorder, first_id: int) -> None:
        self.recorder = recorder
        self._ids = itertools.count(first_id)

    def record(self, result: CycleResult) -> None:
        cycle_id = next(self._ids)
        summary = plan_summary(result)
        notes: dict[str, Any] = {
            "notes": summary["notes"],
            "rejected": summary["rejected"],
            "reserved": list(result.site_problem.reserved_keys),
        }
        self.recorder.control_cycle(
            {
                "id": cycle_id,
                "site_id": result.site_id,
                "started_at": result.started_at,
                "trigger": result.trigger,
                "duration_ms": result.duration_s * 1000.0,
                "solve_ms": result.plan.solve_time_s * 1000.0,
                "status": str(result.plan.status),
                "solver": result.plan.solver,
                "sessions": summary["sessions"],
                "chargers": len(result.site_problem.problem.chargers),
                "limits_sent": len(result.commands),
                "capacity_kw": result.capacity_kw,
                "planned_kw": result.planned_kw,
                "measured_kw": result.measured_kw,
                "unmet_kwh": summary["unmet_kwh"],
                "energy_cost": result.plan.energy_cost,
                "notes": notes,
            },
            [_limit_row(result, cycle_id, answer) for answer in result.answers],
        )


def _limit_row(result: CycleResult, cycle_id: int, answer: Any) -> dict[str, Any]:
    command = answer.command
    charge_point_id, _, evse = command.key.rpartition("/")
    return {
        "cycle_id": cycle_id,
        "site_id": result.site_id,
        "charge_point_id": charge_point_id,
        "evse_id": int(evse),
        "transaction_id": command.transaction_id,
        "purpose": "TxProfile",
        "limit_a": command.limit_a,
        "limit_w": command.limit_w,
        "unit": "A",
        "reason": command.reason,
        "sent_at": result.started_at,
        "status": answer.status,
        "error": answer.error,
    }


class ControlService:
    """Every site's live control loop."""

    def __init__(
        self,
        sites: Sequence[SiteConfig],
        csms: CentralSystem,
        store: Store,
        recorder: Recorder,
        *,
        time_scale: float = 1.0,
    ) -> None:
        self.csms = csms
        self.store = store
        self.recorder = recorder
        self.time_scale = time_scale
        self.sites = {site.id: site for site in sites}
        self.live: dict[str, LiveSite] = {}
        self.loops: dict[str, ControlLoop] = {}
        self.forecasts: dict[str, HistoryForecast] = {}
        self._refitting: asyncio.Task[None] | None = None
        self._started = False

    async def start(self) -> None:
        first_id = await asyncio.to_thread(self.store.max_control_cycle_id) + 1
        sink = StoreSink(self.recorder, first_id)
        for site in self.sites.values():
            def trigger(reason: str, site_id: str = site.id) -> None:
                self.loops[site_id].request(reason)

            live = LiveSite(site, self.csms, on_trigger=trigger, time_scale=self.time_scale)
            forecast = HistoryForecast(site.timezone)
            await asyncio.to_thread(self._fit, site, forecast)
            self.forecasts[site.id] = forecast
            loop = ControlLoop(
                site,
                live,
                clock=self.csms.clock,
                sink=sink,
                forecast=forecast,
                arrivals=forecast,
                time_scale=self.time_scale,
            )
            self.live[site.id] = live
            self.loops[site.id] = loop
            await self._load_needs(live)
            now = self.csms.clock()
            month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            peak_kw = await asyncio.to_thread(self.store.control_peak_kw, site.id, month_start)
            live.restore_peak(now, peak_kw)
            live.attach()
            loop.start()
            log.info(
                "controlling site %s: %d chargers every %g s",
                site.id,
                len(site.chargers),
                site.control.interval_s,
            )
        self._refitting = asyncio.create_task(self._refit_daily())
        self._started = True

    def _fit(self, site: SiteConfig, forecast: HistoryForecast) -> None:
        """Fit a site's departure/energy forecast on its finished sessions (a database read)."""
        since = self.csms.clock() - HISTORY
        history = [
            tx
            for tx in self.store.list_transactions(active=False, since=since, limit=100_000)
            if site.charger_key(tx.charge_point_id, tx.evse_id) is not None
        ]
        forecast.fit(history)

    async def _refit_daily(self) -> None:
        while True:
            await asyncio.sleep(REFIT_INTERVAL_S / self.time_scale)
            for site_id, forecast in self.forecasts.items():
                try:
                    await asyncio.to_thread(self._fit, self.sites[site_id], forecast)
                except Exception:
                    log.exception("refitting the forecast of site %s failed", site_id)

    async def _load_needs(self, live: LiveSite) -> None:
        """Departure times and energies drivers gave for transactions still running."""
        pks = [tx.id for tx in self.csms.open_transactions()]
        rows = await asyncio.to_thread(self.store.charging_needs_of, pks)
        for row in rows:
            if row["source"] == "driver":
                live.driver_needs[row["transaction_pk"]] = (row["departure_at"], row["energy_kwh"])

    async def stop(self) -> None:
        """Stop every loop and stop following events (may be called more than once)."""
        if self._refitting is not None:
            self._refitting.cancel()
            self._refitting = None
        for loop in self.loops.values():
            await loop.stop()
        for live in self.live.values():
            await live.detach()

    def site_of(self, charge_point_id: str, evse_id: int) -> str | None:
        for site in self.sites.values():
            if site.charger_key(charge_point_id, evse_id) is not None:
                return site.id
        return None

    def set_driver_needs(
        self,
        transaction_pk: str,
        charge_point_id: str,
        evse_id: int,
        departure: datetime | None,
        energy_kwh: float | None,
    ) -> bool:
        """Record what the driver said (departure, energy) and re-plan; False if not controlled."""
        site_id = self.site_of(charge_point_id, evse_id)
        self.recorder.charging_need(
            {
                "transaction_pk": transaction_pk,
                "charge_point_id": charge_point_id,
                "evse_id": evse_id,
                "source": "driver",
                "departure_at": departure,
                "energy_kwh": energy_kwh,
                "updated_at": self.csms.clock(),
            }
        )
        if site_id is None:
            return False
        self.live[site_id].driver_needs[transaction_pk] = (departure, energy_kwh)
        self.loops[site_id].request("needs")
        return True
