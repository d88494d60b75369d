"""The control loop of one site: snapshot -> optimizer problem -> plan -> limits -> record.

The same :class:`ControlLoop` runs live (its :class:`~ems.control.interface.SiteInterface` talks
OCPP, APScheduler calls :meth:`ControlLoop.cycle` every ``interval_s`` and at once, debounced, on
an arrival, a departure or a rejected profile) and in replay (the replay calls
:meth:`ControlLoop.cycle` itself on a simulated clock). Cycles never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import numpy as np
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ems import metrics
from ems.control.dispatch import decide, split_decreases
from ems.control.interface import LimitAnswer, LimitCommand, SiteInterface, Snapshot
from ems.control.problem import ArrivalsForecast, NeedsForecast, SiteProblem, build_problem
from optimizer.baselines import (
    EarliestDeadlineFirst,
    EqualShare,
    LeastLaxityFirst,
    Uncontrolled,
)
from optimizer.lp_highs import HighsScheduler
from optimizer.model import Plan, watts_per_amp
from optimizer.scheduler import Scheduler

if TYPE_CHECKING:
    from ems.site import SiteConfig

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Wall-clock delay that gathers a burst of arrivals/departures into one triggered cycle [s].
DEBOUNCE_S = 0.2


def make_scheduler(name: str, time_limit_s: float) -> Scheduler:
    """The scheduler a site's ``control.scheduler`` names; ``lp`` falls back to EDF."""
    if name == "lp":
        return HighsScheduler(time_limit_s=time_limit_s, fallback=EarliestDeadlineFirst())
    baselines: dict[str, Callable[[], Scheduler]] = {
        "edf": EarliestDeadlineFirst,
        "llf": LeastLaxityFirst,
        "equal": EqualShare,
        "uncontrolled": Uncontrolled,
    }
    if name not in baselines:
        raise ValueError(f"unknown scheduler {name!r}; one of lp, {', '.join(baselines)}")
    return baselines[name]()


@dataclass
class CycleResult:
    """Everything one control cycle saw, decided and got back."""

    site_id: str
    started_at: datetime
    trigger: str
    snapshot: Snapshot
    site_problem: SiteProblem
    plan: Plan
    commands: Sequence[LimitCommand]
    answers: Sequence[LimitAnswer]
    duration_s: float
    decide_s: float  # snapshot, problem, solve and dispatch decisions, without sending
    notes: list[str] = field(default_factory=list)

    @property
    def capacity_kw(self) -> float | None:
        """The grid connection's power limit in the first slot, when it has one."""
        root = next(c for c in self.site_problem.problem.circuits if c.parent_id is None)
        limits = root.power_limits_kw(self.site_problem.problem.horizon.slots)
        return None if limits is None else float(limits[0])

    @property
    def planned_kw(self) -> float:
        """Site EV power of the limits now in the plan [kW]."""
        problem = self.site_problem.problem
        on = problem.session_on()
        return (
            sum(
                self.plan.limit_now_a.get(c.id, 0.0) * watts_per_amp(c, on.get(c.id))
                for c in problem.chargers
            )
            / 1000.0
        )

    @property
    def measured_kw(self) -> float | None:
        """Site EV power measured, where the chargers reported it [kW]."""
        values = [s.measured_power_w for s in self.snapshot.sessions]
        known = [v for v in values if v is not None]
        return sum(known) / 1000.0 if known else None


class CycleSink(Protocol):
    """Where finished cycles go: the store (live) or the replay's metrics."""

    def record(self, result: CycleResult) -> None: ...


class ControlLoop:
    """Re-plans one site every ``control.interval_s`` and sends the limits that changed.

    ``time_scale`` > 1 runs the intervals faster than wall-clock time (the demo's time
    acceleration; ``clock`` must run at the same pace).
    """

    def __init__(
        self,
        site: SiteConfig,
        interface: SiteInterface,
        *,
        clock: Clock,
        scheduler: Scheduler | None = None,
        sink: CycleSink | None = None,
        forecast: NeedsForecast | None = None,
        arrivals: ArrivalsForecast | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.site = site
        self.interface = interface
        self.clock = clock
        self.scheduler = scheduler or make_scheduler(
            site.control.scheduler, site.control.solve_time_budget_s
        )
        self.sink = sink
        self.forecast = forecast
        self.arrivals = arrivals
        self.time_scale = time_scale
        self.latest: CycleResult | None = None
        self.cycles = 0
        self._lock = asyncio.Lock()
        self._apscheduler: AsyncIOScheduler | None = None
        self._pending: set[str] = set()

    # ---- scheduling --------------------------------------------------------------------------

    def start(self) -> None:
        """Run a cycle every interval (and one at once) on the running event loop."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self._run,
            "interval",
            seconds=self.site.control.interval_s / self.time_scale,
            args=("interval",),
            id="interval",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now().astimezone(),
        )
        scheduler.start()
        self._apscheduler = scheduler

    async def stop(self) -> None:
        if self._apscheduler is not None:
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
        async with self._lock:  # let a running cycle finish
            pass

    def request(self, trigger: str) -> None:
        """Ask for a cycle soon (an arrival, a departure, a rejected profile), debounced."""
        scheduler = self._apscheduler
        if scheduler is None:
            return
        self._pending.add(trigger)
        if scheduler.get_job("triggered") is None:
            scheduler.add_job(
                self._run_triggered,
                "date",
                run_date=datetime.now().astimezone() + timedelta(seconds=DEBOUNCE_S),
                id="triggered",
                misfire_grace_time=None,
                max_instances=4,  # a trigger during a running cycle waits for its lock
            )

    async def _run_triggered(self) -> None:
        triggers, self._pending = self._pending, set()
        await self._run("+".join(sorted(triggers)) or "request")

    async def _run(self, trigger: str) -> None:
        try:
            await self.cycle(trigger)
        except Exception:  # a cycle that fails must not stop the next one
            log.exception("control cycle of site %s failed", self.site.id)

    # ---- one cycle ---------------------------------------------------------------------------

    async def cycle(self, trigger: str = "interval") -> CycleResult:
        """Plan the site from its current state and send the limits that changed."""
        async with self._lock:
            started = time.perf_counter()
            now = self.clock()
            snapshot = self.interface.snapshot(now)
            site_problem = build_problem(self.site, snapshot, self.forecast, self.arrivals)
            plan = await asyncio.to_thread(self.scheduler.plan, site_problem.problem)
            control = self.site.control
            commands = decide(
                site_problem.problem,
                plan.limit_now_a,
                snapshot.sessions,
                snapshot.chargers,
                now,
                deadband_a=control.deadband_a,
                validity_s=control.profile_validity_s,
                interval_s=control.interval_s,
            )
            decided = time.perf_counter()
            answers: list[LimitAnswer] = []
            decreases, rest = split_decreases(commands, snapshot.chargers)
            for batch in (decreases, rest):
                if batch:
                    answers.extend(await self.interface.apply(batch))
            result = CycleResult(
                site_id=self.site.id,
                started_at=now,
                trigger=trigger,
                snapshot=snapshot,
                site_problem=site_problem,
                plan=plan,
                commands=commands,
                answers=answers,
                duration_s=time.perf_counter() - started,
                decide_s=decided - started,
            )
            self.latest = result
            self.cycles += 1
            metrics.observe_cycle(result)
            if self.sink is not None:
                try:
                    self.sink.record(result)
                except Exception:
                    log.exception("recording control cycle of site %s failed", self.site.id)
            rejected = [a for a in answers if not a.accepted]
            if rejected:
                log.warning(
                    "site %s: %d of %d limits not accepted (%s)",
                    self.site.id,
                    len(rejected),
                    len(answers),
                    ", ".join(sorted({a.command.key for a in rejected})[:10]),
                )
            return result


def plan_summary(result: CycleResult) -> dict[str, object]:
    """A JSON-able summary of a cycle for the API and the cycle log."""
    plan = result.plan
    problem = result.site_problem.problem
    site_kw = np.asarray(plan.power_w).sum(axis=0) / 1000.0 if plan.power_w.size else []
    return {
        "site_id": result.site_id,
        "started_at": result.started_at.isoformat(),
        "trigger": result.trigger,
        "status": str(plan.status),
        "solver": plan.solver,
        "solve_ms": plan.solve_time_s * 1000.0,
        "duration_ms": result.duration_s * 1000.0,
        "sessions": len(problem.sessions) - len(result.site_problem.expected_ids),
        "expected_sessions": len(result.site_problem.expected_ids),
        "chargers": len(problem.chargers),
        "limits_sent": len(result.commands),
        "rejected": sum(1 for a in result.answers if not a.accepted),
        "capacity_kw": result.capacity_kw,
        "planned_kw": result.planned_kw,
        "measured_kw": result.measured_kw,
        "unmet_kwh": result.site_problem.real_unmet_kwh(plan.unmet_kwh),
        "energy_cost": plan.energy_cost,
        "site_kw_by_slot": [float(v) for v in site_kw],
        "notes": list(plan.notes) + result.notes,
    }
