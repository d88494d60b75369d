"""One replay: recorded sessions through the live control loop on a simulated clock.

:func:`run_replay` places the sessions on the site (:mod:`ems.replay.sessions`), builds the
:class:`~ems.replay.site.ReplaySite` and the very :class:`~ems.control.loop.ControlLoop` the live
system runs, and steps the clock:

1. every ``step_s`` from the start (a 5-minute grid by default), and also at every arrival and
   departure (``event_cycles``, as the live loop re-plans at once on either), the cars charge up
   to that moment (:meth:`ReplaySite.advance`, exact);
2. the cars leaving then leave, those arriving plug in (under their charger's fallback limit);
3. ``await loop.cycle()``: snapshot, :func:`~ems.control.problem.build_problem`, the policy's
   scheduler, :func:`~ems.control.dispatch.decide` with its final clamp, and the limits applied.

A moment with no car plugged in runs no cycle: the loop would plan nothing and send nothing. The
replay goes on until the last car has left. Nothing in it reads the wall clock except the solve
timings, so the same inputs and seed give the same figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ems.control.forecast import HistoryForecast
from ems.control.loop import ControlLoop, CycleResult
from ems.control.problem import NeedsForecast
from ems.datasets import SessionRecord
from ems.replay.forecast import fit_needs_forecast
from ems.replay.metrics import (
    RunMetrics,
    count_violations,
    energy_cost,
    energy_figures,
    monthly_peaks_kw,
    percentile_ms,
)
from ems.replay.scenario import (
    Policy,
    make_policy_scheduler,
    policy_tariff,
    replay_control,
    with_capacity,
)
from ems.replay.sessions import Demand, Knowledge, ReplaySession, prepare_sessions
from ems.replay.site import Piece, ReplayClock, ReplaySite, SessionOutcome
from ems.site import SiteConfig
from ems.tariffs import Tariff
from optimizer.model import Plan, Problem
from optimizer.scheduler import Scheduler

Progress = Callable[[float], None]
T = TypeVar("T")


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay and how; ``start``/``end`` bound the arrivals (aware datetimes).

    ``capacity_kw`` re-rates the grid connection (:func:`~ems.replay.scenario.with_capacity`);
    ``tariff`` replaces the site's for billing and for the policies that price energy.
    ``reserve_arrivals`` (with ``knowledge`` forecast) lets the loop keep capacity for the cars
    an arrival model fitted on the earlier sessions expects.
    """

    policy: Policy
    start: datetime
    end: datetime
    step_s: float = 300.0
    knowledge: Knowledge = Knowledge.PERFECT
    demand: Demand = Demand.DELIVERED
    ev_model: bool = False
    acnportal: bool = False
    event_cycles: bool = True
    reserve_arrivals: bool = False
    capacity_kw: float | None = None
    tariff: Tariff | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name}: must be timezone-aware, got {value!r}")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        if self.reserve_arrivals and self.knowledge is not Knowledge.FORECAST:
            raise ValueError("reserve_arrivals: needs knowledge forecast (a model of arrivals)")
        if not self.step_s > 0:
            raise ValueError(f"step_s: must be positive, got {self.step_s!r}")


@dataclass(frozen=True)
class StepSeries:
    """Per control step: its start, mean and highest site EV power, and the capacity [kW]."""

    starts: tuple[datetime, ...]
    mean_kw: tuple[float, ...]
    max_kw: tuple[float, ...]
    capacity_kw: tuple[float | None, ...]


@dataclass(frozen=True)
class ReplayResult:
    """A finished replay: its figures, the per-step series and every session's outcome."""

    metrics: RunMetrics
    series: StepSeries
    outcomes: tuple[SessionOutcome, ...]
    dropped: tuple[tuple[str, str], ...]


class TimedScheduler:
    """A scheduler whose every plan is timed (the baselines do not time themselves)."""

    def __init__(self, inner: Scheduler) -> None:
        self.inner = inner
        self.name = inner.name
        self.times_s: list[float] = []

    def plan(self, problem: Problem) -> Plan:
        started = time.perf_counter()
        plan = self.inner.plan(problem)
        self.times_s.append(time.perf_counter() - started)
        return plan


@dataclass
class _Cycles:
    """The loop's cycle sink: counts cycles and plans the LP had to hand to its fallback."""

    cycles: int = 0
    fallbacks: int = 0
    notes: list[str] = field(default_factory=list)

    def record(self, result: CycleResult) -> None:
        self.cycles += 1
        if str(result.plan.status) == "fallback":
            self.fallbacks += 1
            if len(self.notes) < 5:
                self.notes.extend(result.plan.notes)


def loop_site(site: SiteConfig, options: ReplayOptions) -> SiteConfig:
    """The site as the replay's loop sees it: capacity, tariff and control for the replay."""
    if options.capacity_kw is not None:
        site = with_capacity(site, options.capacity_kw)
    billing = options.tariff or site.tariff
    return replace(
        site,
        tariff=policy_tariff(options.policy, billing),
        control=replay_control(site.control, options.step_s, options.policy),
    )


def run_replay(
    site: SiteConfig,
    records: Sequence[SessionRecord],
    options: ReplayOptions,
    *,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay the ``records`` arriving in ``[options.start, options.end)`` on ``site``.

    ``records`` may hold earlier sessions too: the forecast knowledge learns from those
    arriving before ``options.start``.
    """
    return asyncio.run(_replay(site, records, options, progress))


class InlineExecutor(ThreadPoolExecutor):
    """Runs what is submitted at once, on the caller's thread.

    The loop hands each plan to a worker thread (live, the event loop must keep serving
    chargers meanwhile). A replay has nothing else to do while it plans, and on a busy machine
    the hand-over to a thread and back cost more than a baseline's plan.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the awaiting coroutine, as a thread would
            future.set_exception(error)
        return future


async def _replay(
    site: SiteConfig,
    records: Sequence[SessionRecord],
    options: ReplayOptions,
    progress: Progress | None,
) -> ReplayResult:
    began = time.perf_counter()
    asyncio.get_running_loop().set_default_executor(InlineExecutor(max_workers=1))
    start, end = options.start, options.end
    in_window = [r for r in records if start <= r.arrival < end]
    controlled_site = loop_site(site, options)
    prepared = prepare_sessions(
        in_window,
        controlled_site,
        knowledge=options.knowledge,
        demand=options.demand,
        acnportal=options.acnportal,
        step_s=options.step_s,
        seed=options.seed,
    )
    forecast: NeedsForecast | None = None
    arrivals: HistoryForecast | None = None
    replay_site = ReplaySite(
        controlled_site,
        start,
        fallback_limits_a=(
            controlled_site.fallback_limits_a() if options.policy.controlled else None
        ),
        ev_model=options.ev_model,
        report_charging=not options.acnportal,
    )
    loop: ControlLoop | None = None
    timed: TimedScheduler | None = None
    cycles = _Cycles()
    scheduler = make_policy_scheduler(options.policy, controlled_site.control.solve_time_budget_s)
    if scheduler is not None:
        if options.knowledge is Knowledge.FORECAST and not options.acnportal:
            history = [r for r in records if r.arrival < start]
            forecast = fit_needs_forecast(history, controlled_site, ReplayClock(replay_site))
            if options.reserve_arrivals:
                arrivals = HistoryForecast(controlled_site.timezone)
                arrivals.fit_sessions(history)
        timed = TimedScheduler(scheduler)
        loop = ControlLoop(
            controlled_site,
            replay_site,
            clock=ReplayClock(replay_site),
            scheduler=timed,
            sink=cycles,
            forecast=forecast,
            arrivals=arrivals,
        )
    await _play(replay_site, loop, prepared.sessions, options, progress)
    outcomes = replay_site.finish()
    metrics = _metrics(
        controlled_site,
        options.tariff or site.tariff,
        options,
        replay_site.pieces,
        list(outcomes.values()),
        len(prepared.dropped),
        cycles,
        timed.times_s if timed is not None else [],
        time.perf_counter() - began,
    )
    return ReplayResult(
        metrics=metrics,
        series=step_series(replay_site.pieces, controlled_site, start, options.step_s),
        outcomes=tuple(outcomes.values()),
        dropped=prepared.dropped,
    )


async def _play(
    site: ReplaySite,
    loop: ControlLoop | None,
    sessions: Sequence[ReplaySession],
    options: ReplayOptions,
    progress: Progress | None,
) -> None:
    """Step the clock through arrivals, departures and control steps (see the module doc)."""
    start = options.start
    arrivals: dict[datetime, list[ReplaySession]] = {}
    departures: dict[datetime, list[ReplaySession]] = {}
    for session in sessions:
        arrivals.setdefault(session.arrival, []).append(session)
        departures.setdefault(session.departure, []).append(session)
    last = max((s.departure for s in sessions), default=start)
    step = timedelta(seconds=options.step_s)
    steps = int((last - start) / step) + 1
    step_times = {start + k * step for k in range(steps + 1)}
    events = set(arrivals) | set(departures)
    times = sorted(t for t in step_times | events if t >= start)
    total_s = max((last - start).total_seconds(), 1.0)
    plugged = 0
    for at in times:
        site.advance(at)
        for session in departures.get(at, ()):
            site.depart(session)
            plugged -= 1
        for session in arrivals.get(at, ()):
            site.arrive(session)
            plugged += 1
        if loop is not None and plugged > 0 and (at in step_times or options.event_cycles):
            trigger = "interval" if at in step_times else "event"
            await loop.cycle(trigger)
        if progress is not None:
            progress(min(1.0, (at - start).total_seconds() / total_s))


def _metrics(
    site: SiteConfig,
    billing: Tariff,
    options: ReplayOptions,
    pieces: Sequence[Piece],
    outcomes: Sequence[SessionOutcome],
    dropped: int,
    cycles: _Cycles,
    solve_times_s: Sequence[float],
    run_s: float,
) -> RunMetrics:
    requested, delivered, fairness = energy_figures(outcomes)
    peaks = monthly_peaks_kw(pieces, site)
    demand_rate = float(billing.demand_charge_per_kw)
    violation_steps, examples = count_violations(pieces, site, options.start, options.step_s)
    last = max((p.start for p in pieces), default=options.start)
    steps = int((last - options.start).total_seconds() // options.step_s) + 1
    return RunMetrics(
        policy=options.policy.value,
        capacity_kw=site.root.limit_kw,
        tariff=billing.id,
        knowledge="perfect" if options.acnportal else options.knowledge.value,
        sessions=len(outcomes),
        sessions_dropped=dropped,
        energy_requested_kwh=requested,
        energy_delivered_kwh=delivered,
        energy_delivered_pct=100.0 * delivered / requested if requested > 0 else 100.0,
        unmet_kwh=max(0.0, requested - delivered),
        peak_kw=max(peaks.values(), default=0.0),
        energy_cost=energy_cost(pieces, billing),
        demand_charge=demand_rate * sum(peaks.values()),
        currency=billing.currency,
        violation_steps=violation_steps,
        steps=steps,
        fairness_jain=fairness,
        cycles=cycles.cycles,
        solve_ms_median=percentile_ms(solve_times_s, 50),
        solve_ms_p95=percentile_ms(solve_times_s, 95),
        run_s=run_s,
        violation_examples=tuple(examples),
    )


def step_series(
    pieces: Sequence[Piece], site: SiteConfig, start: datetime, step_s: float
) -> StepSeries:
    """The per-step series the plots draw (mean and highest power, capacity)."""
    if not pieces:
        return StepSeries((), (), (), ())
    last = max(p.start for p in pieces)
    count = int((last - start).total_seconds() // step_s) + 1
    energy = [0.0] * count
    highest = [0.0] * count
    for piece in pieces:
        k = int((piece.start - start).total_seconds() // step_s)
        energy[k] += piece.energy_kwh
        highest[k] = max(highest[k], piece.power_w / 1000.0)
    starts = [start + timedelta(seconds=k * step_s) for k in range(count)]
    durations = [step_s] * count
    circuits = site.optimizer_circuits(
        starts, durations, site.other_load_forecast_kw(starts, durations)
    )
    root = next(c for c in circuits if c.parent_id is None)
    limits = root.power_limits_kw(count)
    capacity: tuple[float | None, ...] = (
        (None,) * count if limits is None else tuple(float(v) for v in limits)
    )
    return StepSeries(
        starts=tuple(starts),
        mean_kw=tuple(e * 3600.0 / step_s for e in energy),
        max_kw=tuple(highest),
        capacity_kw=capacity,
    )
