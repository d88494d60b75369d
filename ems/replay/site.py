"""The replay's :class:`~ems.control.interface.SiteInterface`: chargers and cars, simulated.

:class:`ReplaySite` is what the control loop talks to in a replay, in place of the OCPP site.
Cars plug in and leave when the runner says (:meth:`ReplaySite.arrive`, :meth:`ReplaySite.depart`);
:meth:`ReplaySite.advance` moves the clock and integrates every car's energy exactly.

Physics
-------
limit in force
    A charger follows the last TxProfile limit it accepted until that profile's ``valid_until``;
    after that, or before any, its TxDefaultProfile (the site's fallback limit), exactly as a
    real charger falls back. A charger of an uncontrolled site has no profile at all: it offers
    its maximum.
what a car draws
    An ideal car (the default, acnportal's battery) draws ``min(limit in force, its own
    maximum)`` at constant power until it has its need, then nothing; the time it becomes full
    within a step is computed exactly. With the EV model (:mod:`ems.sim.ev`) the car's battery
    tapers above its knee: its capacity is ``max(EV_CAPACITY_KWH, need / 0.9)`` and it arrives
    at the state of charge from which its need fills it.
meter readings
    Each snapshot reports what every car draws at that instant (power and current, as a meter
    value would) together with the TxProfile limit it draws under, so the optimizer's battery
    tail rule sees what it sees live. A car under its fallback limit (no TxProfile in force)
    reports no reading, as a car the live site has not yet measured under its limit.

Every stretch of constant draw is kept as a :class:`Piece` (start, length, the current per
charger) so that metrics are computed from what was actually drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from ems.control.idle import IdleTracker
from ems.control.interface import ActiveSession, ChargerView, LimitAnswer, LimitCommand, Snapshot
from ems.replay.sessions import ReplaySession
from ems.sim.ev import Ev, EvModel, Offer
from ems.site import ChargerSpec, SiteConfig
from optimizer.model import FloatArray

# Capacity of the battery model's cars at least [kWh]; larger needs get a larger battery.
EV_CAPACITY_KWH = 60.0
# Share of its battery a car with the largest need may fill.
EV_MAX_FILL = 0.9
# Above this power a car counts as charging [W] (as the live site).
CHARGING_POWER_W = 100.0
_EPS_KWH = 1e-12


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of time over which every car drew a constant current per phase [A].

    ``current_a`` is in site charger order; ``power_w`` is the site's EV power. With the EV
    model, power may fall within a piece (taper): ``current_a`` is then what was drawn at its
    start (the most) and ``energy_kwh`` what was taken over it.
    """

    start: datetime
    duration_s: float
    current_a: FloatArray
    power_w: float
    energy_kwh: float


@dataclass
class _Car:
    session: ReplaySession
    delivered_kwh: float = 0.0
    ev: Ev | None = None

    @property
    def remaining_kwh(self) -> float:
        return max(0.0, self.session.need_kwh - self.delivered_kwh)


@dataclass
class _Point:
    """One charger: its limits in force and the car on it."""

    spec: ChargerSpec
    index: int
    default_limit_a: float | None
    tx_limit_a: float | None = None
    tx_valid_until: datetime | None = None
    car: _Car | None = None

    def offer_a(self, at: datetime) -> float:
        """The limit in force at ``at`` [A per phase]."""
        if self.tx_limit_a is not None and self.tx_in_force(at):
            return self.tx_limit_a
        if self.default_limit_a is None:
            return self.spec.max_current_a
        return self.default_limit_a

    def tx_in_force(self, at: datetime) -> bool:
        return self.tx_valid_until is not None and at < self.tx_valid_until


@dataclass
class SessionOutcome:
    """What a replayed session received."""

    session: ReplaySession
    delivered_kwh: float = 0.0


class ReplaySite:
    """The site's chargers and cars on a simulated clock (see the module docstring).

    ``fallback_limits_a`` is each charger's TxDefaultProfile limit by key; None for a site
    nobody controls (every charger offers its maximum). ``ev_model`` switches on the battery
    model with its taper. ``report_charging`` False hides from the loop whether a car is charging
    (acnportal's algorithms do not know it, so the minimum-current rule cannot hold a car).
    """

    def __init__(
        self,
        site: SiteConfig,
        start: datetime,
        *,
        fallback_limits_a: Mapping[str, float] | None,
        ev_model: bool = False,
        report_charging: bool = True,
    ) -> None:
        self.site = site
        self.report_charging = report_charging
        self.now = start
        self.ev_model = ev_model
        self.points = [
            _Point(
                spec,
                i,
                None if fallback_limits_a is None else fallback_limits_a.get(spec.key, 0.0),
            )
            for i, spec in enumerate(site.chargers)
        ]
        self._by_key = {p.spec.key: p for p in self.points}
        self.pieces: list[Piece] = []
        self.outcomes: dict[str, SessionOutcome] = {}
        self.commands_applied = 0
        self.idle = IdleTracker()
        self._peak_month: tuple[int, int] | None = None
        self._peak_kw = 0.0
        self._tz = site.tz

    # ---- the runner's side -------------------------------------------------------------------

    def arrive(self, session: ReplaySession) -> None:
        """Plug ``session``'s car into its charger now."""
        point = self._by_key[session.key]
        if point.car is not None:
            raise ValueError(
                f"charger {session.key}: session {session.session_id} arrives while "
                f"{point.car.session.session_id} is still plugged in"
            )
        car = _Car(session)
        if self.ev_model:
            car.ev = _battery(session, point.spec)
        point.car = car
        point.tx_limit_a = point.tx_valid_until = None
        self.outcomes[session.session_id] = SessionOutcome(session)

    def depart(self, session: ReplaySession) -> None:
        """Unplug ``session``'s car now; its TxProfile ends with the transaction."""
        point = self._by_key[session.key]
        if point.car is None or point.car.session.session_id != session.session_id:
            raise ValueError(f"charger {session.key}: session {session.session_id} is not there")
        self.outcomes[session.session_id].delivered_kwh = point.car.delivered_kwh
        self.idle.forget(session.session_id)
        point.car = None
        point.tx_limit_a = point.tx_valid_until = None

    def advance(self, to: datetime) -> None:
        """Let the cars charge from now until ``to``, profile expiries included."""
        if to < self.now:
            raise ValueError(f"cannot go back in time from {self.now} to {to}")
        while self.now < to:
            until = to
            for point in self.points:
                valid = point.tx_valid_until
                if point.car is not None and valid is not None and self.now < valid < until:
                    until = valid
            self._charge(self.now, until)
            self.now = until

    # ---- SiteInterface -----------------------------------------------------------------------

    def snapshot(self, now: datetime) -> Snapshot:
        """Sessions with what each car draws at ``now`` (see the module docstring)."""
        sessions: list[ActiveSession] = []
        views: dict[str, ChargerView] = {}
        site_w = 0.0
        for point in self.points:
            spec = point.spec
            views[spec.key] = ChargerView(
                key=spec.key,
                online=True,
                controllable=True,
                applied_limit_a=point.tx_limit_a,
                limit_valid_until=point.tx_valid_until,
            )
            car = point.car
            if car is None:
                continue
            current_a, power_w = _draw(point, car, point.offer_a(now))
            site_w += power_w
            measured = point.tx_in_force(now)
            session = car.session
            idle_since = self.idle.since(session.session_id)
            if measured:
                idle_since = self.idle.observe(
                    session.session_id, now, current_a, point.tx_limit_a, spec.min_current_a
                )
            sessions.append(
                ActiveSession(
                    key=spec.key,
                    session_id=session.session_id,
                    transaction_id=session.session_id,
                    arrival=session.arrival,
                    energy_delivered_kwh=car.delivered_kwh,
                    id_token=session.id_token,
                    ev_max_current_a=session.ev_max_current_a,
                    driver_departure=session.driver_departure,
                    driver_energy_kwh=session.driver_energy_kwh,
                    measured_power_w=power_w if measured else None,
                    measured_current_a=current_a if measured else None,
                    measured_at=now if measured else None,
                    applied_limit_a=point.tx_limit_a if measured else None,
                    charging=self.report_charging and power_w > CHARGING_POWER_W,
                    idle_since=idle_since if self.report_charging else None,
                )
            )
        self._track_peak(now, site_w / 1000.0)
        return Snapshot(
            now=now, sessions=tuple(sessions), chargers=views, peak_so_far_kw=self._peak_kw
        )

    async def apply(self, commands: Sequence[LimitCommand]) -> Sequence[LimitAnswer]:
        """Every charger accepts: the limit is in force from now until ``valid_until``."""
        answers = []
        for command in commands:
            point = self._by_key[command.key]
            car = point.car
            if car is None or car.session.session_id != command.session_id:
                answers.append(LimitAnswer(command, False, "Rejected", "no such transaction"))
                continue
            point.tx_limit_a = command.limit_a
            point.tx_valid_until = command.valid_until
            self.commands_applied += 1
            answers.append(LimitAnswer(command, True, "Accepted"))
        return answers

    # ---- physics -----------------------------------------------------------------------------

    def _charge(self, start: datetime, end: datetime) -> None:
        """Integrate every car over ``[start, end)``, within which no limit changes."""
        span_s = (end - start).total_seconds()
        n = len(self.points)
        current = np.zeros(n)
        power = np.zeros(n)
        full_after = np.full(n, np.inf)
        for point in self.points:
            car = point.car
            if car is None:
                continue
            offer = point.offer_a(start)
            if car.ev is not None:
                current[point.index], _ = _draw(point, car, offer)
                taken = car.ev.advance(span_s, _offer(point.spec, offer))
                taken = min(taken, car.remaining_kwh)
                car.delivered_kwh += taken
                power[point.index] = taken * 3.6e6 / span_s if span_s > 0 else 0.0
                continue
            current[point.index], power[point.index] = _draw(point, car, offer)
            if power[point.index] > 0:
                full_after[point.index] = car.remaining_kwh * 3.6e6 / power[point.index]
        # Cut the span where ideal cars become full: constant draw within each piece.
        edges = sorted({0.0, span_s, *(t for t in full_after.tolist() if 0.0 < t < span_s)})
        for a, b in itertools.pairwise(edges):
            on = full_after > a
            piece_current = np.where(on, current, 0.0)
            piece_power = np.where(on, power, 0.0)
            energy = piece_power * (b - a) / 3.6e6
            for point in self.points:
                car = point.car
                if car is not None and car.ev is None and energy[point.index] > 0:
                    car.delivered_kwh = min(
                        car.session.need_kwh, car.delivered_kwh + float(energy[point.index])
                    )
            self.pieces.append(
                Piece(
                    start=start + timedelta(seconds=a),
                    duration_s=b - a,
                    current_a=piece_current,
                    power_w=float(piece_power.sum()),
                    energy_kwh=float(energy.sum()),
                )
            )

    def _track_peak(self, now: datetime, site_kw: float) -> None:
        """The calendar month's (site local time) peak so far, from what the cars draw."""
        local = now.astimezone(self._tz)
        month = (local.year, local.month)
        if month != self._peak_month:
            self._peak_month, self._peak_kw = month, 0.0
        self._peak_kw = max(self._peak_kw, site_kw)

    def finish(self) -> dict[str, SessionOutcome]:
        """Every session's outcome (cars still plugged in count what they have so far)."""
        for point in self.points:
            if point.car is not None:
                outcome = self.outcomes[point.car.session.session_id]
                outcome.delivered_kwh = point.car.delivered_kwh
        return self.outcomes


def _draw(point: _Point, car: _Car, offer_a: float) -> tuple[float, float]:
    """What the car on ``point`` draws under ``offer_a`` now: current per phase [A], power [W]."""
    if car.remaining_kwh <= _EPS_KWH or offer_a <= 0:
        return 0.0, 0.0
    spec = point.spec
    if car.ev is not None:
        draw = car.ev.draw(_offer(spec, offer_a))
        if draw.power_w <= 0:
            return 0.0, 0.0
        return draw.power_w / spec.watts_per_amp, draw.power_w
    current_a = min(offer_a, car.session.max_current_a)
    return current_a, current_a * spec.watts_per_amp


def _offer(spec: ChargerSpec, limit_a: float) -> Offer:
    """The EV model's view of a limit on this charger (a line-to-line charger is one phase)."""
    phases = 1 if spec.line_to_line else len(spec.phases)
    return Offer(
        limit_a=limit_a,
        phases=phases,
        voltage_v=spec.voltage_v,
        dc=spec.dc,
        min_current_a=spec.min_current_a,
    )


def _battery(session: ReplaySession, spec: ChargerSpec) -> Ev:
    """A car whose battery the session's need fills from its state of charge at arrival."""
    capacity = max(EV_CAPACITY_KWH, session.need_kwh / EV_MAX_FILL)
    phases = 1 if spec.line_to_line or len(spec.phases) == 1 else 3
    model = EvModel(
        name="replay",
        capacity_kwh=capacity,
        ac_max_current_a=session.max_current_a,
        ac_phases=phases,
        dc_max_power_w=spec.max_power_w if spec.dc else None,
    )
    return Ev(model, soc=max(0.0, 1.0 - session.need_kwh / capacity))


@dataclass
class ReplayClock:
    """The loop's clock in a replay: whatever time the replay site is at."""

    site: ReplaySite
    calls: int = field(default=0)

    def __call__(self) -> datetime:
        self.calls += 1
        return self.site.now
