"""The live :class:`~ems.control.interface.SiteInterface`: a site's chargers over OCPP.

:class:`LiveSite` follows the central system's events for the site's chargers (meter values,
transactions, ISO 15118 charging needs, boots, disconnects) and turns them into snapshots; it
sends the loop's limits as TxProfiles, all chargers at once.

Set-up of a charger, once its boot is accepted (or when an accepted charger reconnects):

1. read its smart-charging capabilities (rate units, stack levels);
2. have it meter power, current per phase, the energy register and SoC every control interval;
3. give every EVSE a TxDefaultProfile with the site's fallback limit, the limit that keeps the
   site within its capacity if ems stops controlling it (crash, network loss).

A charger is controllable once that went through. One that rejects a charging profile (an answer
other than Accepted, or a CALLERROR) is marked uncontrollable: the optimizer then budgets its
maximum draw and re-plans the others. A charger that sends no meter values is assumed to draw
its limit (it is simply given no measured power).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ems.commands import CONTROL_MEASURANDS, SmartChargingCapabilities
from ems.control.idle import IdleTracker
from ems.control.interface import (
    ActiveSession,
    ChargerView,
    LimitAnswer,
    LimitCommand,
    Snapshot,
)
from ems.control.measurements import Measurements
from ems.domain import (
    ChargePointOffline,
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    CommandError,
    CommandTimeout,
    ConnectorStatus,
    Registration,
)
from ems.events import (
    ChargePointAccepted,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargingNeedsReported,
    Event,
    MeterValuesReceived,
    TransactionEnded,
    TransactionStarted,
)
from optimizer.model import SELF_LIMITING_MARGIN_A

if TYPE_CHECKING:
    from ems.csms import CentralSystem
    from ems.site import ChargerSpec, SiteConfig

log = logging.getLogger(__name__)

# Profile ids: one TxDefaultProfile and one TxProfile per EVSE, replaced in place.
TX_DEFAULT_PROFILE_ID = 1000
TX_PROFILE_ID = 2000
# Power above which a car counts as charging when the connector status does not say [W].
CHARGING_POWER_W = 100.0
# Current above which a phase counts as used by the car [A].
PHASE_IN_USE_A = 1.0
# How fast a car that draws all it is given may have its learned maximum raised, per measurement:
# by this share of it, at least RAMP_MIN_A.
RAMP_SHARE = 0.25
RAMP_MIN_A = 2.0
# A car drawing within this much of its limit takes all it is given [A].
FULL_DRAW_A = 0.5
# A car takes this long to follow a new limit: earlier measurements show the old one [s].
SETTLE_S = 2.0
# A reconnecting charger that was accepted before is set up after this long without a boot [s].
RECONNECT_SETUP_DELAY_S = 3.0


@dataclass
class _Charger:
    """What the live site knows of one charger (an EVSE of a charge point)."""

    spec: ChargerSpec
    ready: bool = False
    rejected: str | None = None
    capabilities: SmartChargingCapabilities = field(default_factory=SmartChargingCapabilities)
    applied_limit_a: float | None = None
    applied_at: datetime | None = None
    valid_until: datetime | None = None
    transaction_pk: str | None = None
    learned_max_a: float | None = None  # what the car was seen to take at most
    learned_from: datetime | None = None  # the measurement it was last updated from


class LiveSite:
    """One site's chargers as the control loop sees them, over the central system.

    ``on_trigger`` is called with ``"arrival"``, ``"departure"`` or ``"rejected"`` so that the
    loop re-plans at once. ``time_scale`` is the demo's time acceleration (delays in wall time).
    """

    def __init__(
        self,
        site: SiteConfig,
        csms: CentralSystem,
        *,
        on_trigger: Callable[[str], None] | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.site = site
        self.csms = csms
        self.on_trigger = on_trigger
        self.time_scale = time_scale
        self.measurements = Measurements()
        self.idle = IdleTracker()
        self.chargers = {spec.key: _Charger(spec) for spec in site.chargers}
        self._by_charge_point: dict[str, list[_Charger]] = {}
        for charger in self.chargers.values():
            self._by_charge_point.setdefault(charger.spec.charge_point_id, []).append(charger)
        meter = site.meter
        self._meter = (
            (meter.charge_point_id, meter.evse_id)
            if meter is not None and meter.charge_point_id is not None
            else None
        )
        self.ev_needs: dict[tuple[str, int], ChargingNeedsReported] = {}
        self.driver_needs: dict[str, tuple[datetime | None, float | None]] = {}
        self.peak_kw = 0.0
        self._peak_month: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._booted: set[str] = set()  # accepted boot since the charger last connected
        self._unsubscribe: Callable[[], None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Follow the central system's events; set up the chargers already connected."""
        self._unsubscribe = self.csms.subscribe(self._on_event)
        for charge_point_id in self._by_charge_point:
            state = self.csms.charge_points.get(charge_point_id)
            if (
                charge_point_id in self.csms.sessions
                and state is not None
                and state.registration == Registration.ACCEPTED
            ):
                self._spawn(self.set_up(charge_point_id))
        for tx in self.csms.open_transactions():
            key = self.site.charger_key(tx.charge_point_id, tx.evse_id)
            if key is not None:
                self.chargers[key].transaction_pk = tx.id

    async def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _trigger(self, reason: str) -> None:
        if self.on_trigger is not None:
            self.on_trigger(reason)

    # ---- events ------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, MeterValuesReceived):
            if event.charge_point_id in self._by_charge_point or (
                self._meter is not None and event.charge_point_id == self._meter[0]
            ):
                self.measurements.add(event.charge_point_id, event.evse_id, event.samples)
        elif isinstance(event, TransactionStarted):
            tx = event.transaction
            key = self.site.charger_key(tx.charge_point_id, tx.evse_id)
            if key is not None:
                charger = self.chargers[key]
                charger.transaction_pk = tx.id
                charger.applied_limit_a = charger.applied_at = charger.valid_until = None
                charger.learned_max_a = charger.learned_from = None
                self._trigger("arrival")
        elif isinstance(event, TransactionEnded):
            tx = event.transaction
            key = self.site.charger_key(tx.charge_point_id, tx.evse_id)
            if key is not None:
                charger = self.chargers[key]
                if charger.transaction_pk == tx.id:
                    charger.transaction_pk = None
                    charger.applied_limit_a = charger.applied_at = charger.valid_until = None
                    charger.learned_max_a = charger.learned_from = None
                self.measurements.clear(tx.charge_point_id, tx.evse_id)
                self.ev_needs.pop((tx.charge_point_id, tx.evse_id), None)
                self.driver_needs.pop(tx.id, None)
                self.idle.forget(tx.id)
                self._trigger("departure")
        elif isinstance(event, ChargingNeedsReported):
            if self.site.charger_key(event.charge_point_id, event.evse_id) is not None:
                self.ev_needs[(event.charge_point_id, event.evse_id)] = event
                self._trigger("needs")
        elif isinstance(event, ChargePointAccepted):
            if event.charge_point_id in self._by_charge_point:
                self._booted.add(event.charge_point_id)
                self._spawn(self.set_up(event.charge_point_id))
        elif isinstance(event, ChargePointConnected):
            if event.charge_point_id in self._by_charge_point:
                self._booted.discard(event.charge_point_id)
                self._spawn(self._set_up_unless_booting(event.charge_point_id))
        elif isinstance(event, ChargePointDisconnected):
            for charger in self._by_charge_point.get(event.charge_point_id, []):
                charger.ready = False

    async def _set_up_unless_booting(self, charge_point_id: str) -> None:
        """A charger that reconnects without a new boot (1.6 often does) is set up anyway."""
        await asyncio.sleep(RECONNECT_SETUP_DELAY_S / self.time_scale)
        state = self.csms.charge_points.get(charge_point_id)
        chargers = self._by_charge_point[charge_point_id]
        if (
            charge_point_id in self.csms.sessions
            and state is not None
            and state.registration == Registration.ACCEPTED
            and charge_point_id not in self._booted
            and not any(c.ready for c in chargers)
        ):
            await self.set_up(charge_point_id)

    # ---- set-up ------------------------------------------------------------------------------

    async def set_up(self, charge_point_id: str) -> None:
        """Probe the charger, configure its metering and give each EVSE its TxDefaultProfile."""
        chargers = self._by_charge_point[charge_point_id]
        try:
            commands = self.csms.commands(charge_point_id)
        except CommandError:
            return
        try:
            capabilities = await commands.smart_charging_capabilities()
        except CommandError as error:
            log.info("%s: smart-charging capabilities unknown (%s)", charge_point_id, error)
            capabilities = SmartChargingCapabilities()
        interval_s = max(1, round(self.site.control.interval_s))
        try:
            await commands.configure_metering(CONTROL_MEASURANDS, interval_s)
        except CommandError as error:
            log.info("%s: metering not configured (%s)", charge_point_id, error)
        fallback = self.site.fallback_limits_a()
        for charger in chargers:
            charger.capabilities = capabilities
            spec = charger.spec
            limit_a = fallback.get(spec.key, 0.0)
            profile = self._profile(
                charger,
                TX_DEFAULT_PROFILE_ID + spec.evse_id,
                ChargingProfilePurpose.TX_DEFAULT,
                0,
                limit_a,
                limit_a * spec.watts_per_amp,
                len(spec.phases),
                None,
                None,
            )
            answer = await self._send(charger, profile)
            if answer is None:
                charger.ready = True
                charger.rejected = None
            else:
                self._reject(charger, f"TxDefaultProfile: {answer}")
        log.info(
            "%s set up: units %s, stack level %s",
            charge_point_id,
            ",".join(capabilities.rate_units) or "unknown",
            capabilities.max_stack_level,
        )
        for problem in phase_mismatches(chargers, capabilities.phase_rotation):
            log.warning("%s: %s", charge_point_id, problem)

    # ---- SiteInterface -----------------------------------------------------------------------

    def snapshot(self, now: datetime) -> Snapshot:
        sessions: list[ActiveSession] = []
        views: dict[str, ChargerView] = {}
        ev_power_w = 0.0
        fresh_after = now - timedelta(seconds=3 * self.site.control.interval_s)
        for charge_point_id, chargers in self._by_charge_point.items():
            online = charge_point_id in self.csms.sessions
            state = self.csms.charge_points.get(charge_point_id)
            open_txs = {tx.evse_id: tx for tx in self.csms.open_transactions(charge_point_id)}
            for charger in chargers:
                spec = charger.spec
                views[spec.key] = ChargerView(
                    key=spec.key,
                    online=online,
                    controllable=online and charger.ready and charger.rejected is None,
                    applied_limit_a=charger.applied_limit_a,
                    limit_valid_until=charger.valid_until,
                )
                tx = open_txs.get(spec.evse_id)
                if tx is None:
                    continue
                reading = self.measurements.get(charge_point_id, spec.evse_id)
                measured_power_w = measured_current_a = None
                measured_at = phases_used = None
                at = reading.measured_at if reading is not None else None
                if reading is not None and at is not None and at >= fresh_after:
                    measured_power_w = reading.power_w
                    measured_current_a = reading.max_current_a()
                    measured_at = at
                status = None
                if state is not None:
                    report = state.connectors.get((spec.evse_id, tx.connector_id))
                    status = report.status if report is not None else None
                charging = status == ConnectorStatus.CHARGING or (
                    measured_power_w is not None and measured_power_w > CHARGING_POWER_W
                )
                if charging and reading is not None and measured_at is not None:
                    used = [c for c in reading.current_a[: len(spec.phases)] if c is not None]
                    if used:
                        phases_used = max(1, sum(1 for c in used if c > PHASE_IN_USE_A))
                if measured_power_w is not None:
                    ev_power_w += measured_power_w
                # The car's draw says something about itself only if it was measured under the
                # limit now in force.
                under_limit = (
                    charger.applied_at is not None
                    and measured_at is not None
                    and measured_at >= charger.applied_at + timedelta(seconds=SETTLE_S)
                )
                if under_limit and measured_at is not None:
                    self._learn(charger, measured_at, measured_current_a, measured_power_w,
                                phases_used)  # fmt: skip
                    drawn_a = self._current_a(
                        charger, measured_current_a, measured_power_w, phases_used
                    )
                    idle_since = self.idle.observe(
                        tx.id, measured_at, drawn_a, charger.applied_limit_a, spec.min_current_a
                    )
                else:
                    idle_since = self.idle.since(tx.id)
                need = self.ev_needs.get((charge_point_id, spec.evse_id))
                ev_max_a = need.max_current_a if need else None
                if charger.learned_max_a is not None:
                    ev_max_a = min(ev_max_a or charger.learned_max_a, charger.learned_max_a)
                driver_departure, driver_energy = self.driver_needs.get(tx.id, (None, None))
                energy_wh = tx.energy_wh or 0.0
                sessions.append(
                    ActiveSession(
                        key=spec.key,
                        session_id=tx.id,
                        transaction_id=tx.transaction_id,
                        arrival=tx.started_at,
                        energy_delivered_kwh=energy_wh / 1000.0,
                        id_token=tx.id_token.id if tx.id_token else None,
                        ev_departure=need.departure_time if need else None,
                        ev_energy_kwh=(
                            need.energy_amount_wh / 1000.0
                            if need and need.energy_amount_wh is not None
                            else None
                        ),
                        ev_max_current_a=ev_max_a,
                        driver_departure=driver_departure,
                        driver_energy_kwh=driver_energy,
                        measured_power_w=measured_power_w if under_limit else None,
                        measured_current_a=measured_current_a,
                        measured_at=measured_at,
                        applied_limit_a=charger.applied_limit_a if under_limit else None,
                        phases_used=phases_used,
                        charging=charging,
                        idle_since=idle_since,
                    )
                )
        other_load_kw = self._other_load_kw(fresh_after, ev_power_w)
        site_kw = ev_power_w / 1000.0 + (other_load_kw or 0.0)
        self._track_peak(now, site_kw)
        return Snapshot(
            now=now,
            sessions=tuple(sessions),
            chargers=views,
            other_load_kw=other_load_kw,
            peak_so_far_kw=self.peak_kw,
        )

    @staticmethod
    def _current_a(
        charger: _Charger, current_a: float | None, power_w: float | None, phases_used: int | None
    ) -> float | None:
        """The per-phase current measured, or worked out from the power measured."""
        if current_a is not None or power_w is None:
            return current_a
        spec = charger.spec
        share = (phases_used or len(spec.phases)) / len(spec.phases)
        return power_w / (spec.watts_per_amp * share)

    @staticmethod
    def _learn(
        charger: _Charger,
        measured_at: datetime,
        current_a: float | None,
        power_w: float | None,
        phases_used: int | None,
    ) -> None:
        """Learn the most current the car takes, so that it is not offered what it leaves.

        A car drawing clearly less than its limit (its on-board charger's maximum, its battery
        tail) is capped at what it draws plus a margin, never below the charger's minimum (a
        lower limit would pause a charging car). A car drawing all it is given (within
        :data:`FULL_DRAW_A`) may want more: its cap is raised step by step (:data:`RAMP_SHARE`)
        instead of at once, so that limits do not swing between the charger's maximum and what
        the car takes. In between, the cap holds.
        """
        applied = charger.applied_limit_a
        if applied is None or charger.learned_from == measured_at:
            return
        spec = charger.spec
        current_a = LiveSite._current_a(charger, current_a, power_w, phases_used)
        if current_a is None:
            return
        charger.learned_from = measured_at
        learned = charger.learned_max_a
        if current_a < applied - SELF_LIMITING_MARGIN_A:
            charger.learned_max_a = max(current_a + SELF_LIMITING_MARGIN_A, spec.min_current_a)
        elif learned is not None and current_a >= applied - FULL_DRAW_A:
            charger.learned_max_a = learned + max(RAMP_MIN_A, RAMP_SHARE * learned)

    def _other_load_kw(self, fresh_after: datetime, ev_power_w: float) -> float | None:
        """Non-EV load from the site meter: what it measures minus the EVs when it counts them."""
        if self._meter is None:
            return None
        reading = self.measurements.get(*self._meter)
        if reading is None or reading.power_w is None or reading.power_at is None:
            return None
        if reading.power_at < fresh_after:
            return None
        total_w = reading.power_w
        if self.site.meter is not None and self.site.meter.measures == "total":
            total_w -= ev_power_w
        return max(0.0, total_w / 1000.0)

    def _track_peak(self, now: datetime, site_kw: float) -> None:
        """The billing period's (calendar month's, UTC) peak so far, from measurements."""
        month = (now.year, now.month)
        if month != self._peak_month:
            self._peak_month, self.peak_kw = month, 0.0
        self.peak_kw = max(self.peak_kw, site_kw)

    def restore_peak(self, now: datetime, peak_kw: float) -> None:
        """Start from a peak recorded earlier this month (ems restarted mid-month)."""
        self._track_peak(now, peak_kw)

    async def apply(self, commands: Sequence[LimitCommand]) -> Sequence[LimitAnswer]:
        return await asyncio.gather(*(self._apply_one(c) for c in commands))

    async def _apply_one(self, command: LimitCommand) -> LimitAnswer:
        charger = self.chargers[command.key]
        stack_level = 1
        max_level = charger.capabilities.max_stack_level
        if max_level is not None:
            stack_level = min(stack_level, max(0, max_level))
        profile = self._profile(
            charger,
            TX_PROFILE_ID + charger.spec.evse_id,
            ChargingProfilePurpose.TX,
            stack_level,
            command.limit_a,
            command.limit_w,
            command.number_phases,
            command.valid_until,
            command.transaction_id,
        )
        sent_at = self.csms.clock()
        problem = await self._send(charger, profile)
        if problem is None:
            charger.applied_limit_a = command.limit_a
            charger.applied_at = sent_at
            charger.valid_until = command.valid_until
            return LimitAnswer(command, True, "Accepted")
        if problem.startswith("offline") or problem.startswith("timeout"):
            return LimitAnswer(command, False, None, problem)
        self._reject(charger, f"TxProfile: {problem}")
        return LimitAnswer(command, False, problem.split(":")[0], problem)

    def _reject(self, charger: _Charger, reason: str) -> None:
        if charger.rejected is None:
            log.warning(
                "%s is uncontrollable: %s",
                charger.spec.key,
                reason,
                extra={"charge_point_id": charger.spec.charge_point_id, "site_id": self.site.id},
            )
            charger.rejected = reason
            self._trigger("rejected")

    def _profile(
        self,
        charger: _Charger,
        profile_id: int,
        purpose: ChargingProfilePurpose,
        stack_level: int,
        limit_a: float,
        limit_w: float,
        number_phases: int,
        valid_to: datetime | None,
        transaction_id: str | None,
    ) -> ChargingProfile:
        units = charger.capabilities.rate_units
        if not units or ChargingRateUnit.A in units:
            period = ChargingSchedulePeriod(0, round(limit_a, 1), number_phases=number_phases)
            unit = ChargingRateUnit.A
        else:
            period = ChargingSchedulePeriod(0, round(limit_w, 0))
            unit = ChargingRateUnit.W
        return ChargingProfile(
            id=profile_id,
            stack_level=stack_level,
            purpose=purpose,
            schedule=ChargingSchedule(
                unit=unit,
                periods=(period,),
                start_schedule=None
                if purpose == ChargingProfilePurpose.TX_DEFAULT
                else self.csms.clock(),
            ),
            kind=ChargingProfileKind.RELATIVE
            if purpose == ChargingProfilePurpose.TX_DEFAULT
            else ChargingProfileKind.ABSOLUTE,
            valid_to=valid_to,
            transaction_id=transaction_id,
        )

    async def _send(self, charger: _Charger, profile: ChargingProfile) -> str | None:
        """Send ``profile``; None when accepted, else why not (``status: ...``, ``offline``...)."""
        spec = charger.spec
        try:
            commands = self.csms.commands(spec.charge_point_id)
            result = await commands.set_charging_profile(spec.evse_id, profile)
        except ChargePointOffline as error:
            return f"offline: {error}"
        except CommandTimeout as error:
            return f"timeout: {error}"
        except CommandError as error:
            return f"error: {error}"
        if result.status == "Accepted":
            return None
        return f"{result.status}: the charger did not accept the profile"


# 1.6 ConnectorPhaseRotation letters: R, S, T are the site's L1, L2, L3.
_ROTATIONS = {"RST": (0, 1, 2), "RTS": (0, 2, 1), "SRT": (1, 0, 2), "STR": (1, 2, 0),
              "TRS": (2, 0, 1), "TSR": (2, 1, 0)}  # fmt: skip


def phase_mismatches(chargers: Sequence[_Charger], rotation: str | None) -> list[str]:
    """Where the charger's reported phase rotation contradicts the site file (a wiring error
    or a wrong site file: either way the per-phase budget would be wrong)."""
    if not rotation:
        return []
    reported: dict[int, tuple[int, ...]] = {}
    for item in rotation.split(","):
        connector, _, letters = item.strip().partition(".")
        if connector.isdigit() and letters.upper() in _ROTATIONS:
            reported[int(connector)] = _ROTATIONS[letters.upper()]
    problems = []
    for charger in chargers:
        spec = charger.spec
        wired = reported.get(spec.evse_id, reported.get(0))
        if wired is None or len(spec.phases) != 3:
            continue
        if tuple(spec.phases) != wired:
            problems.append(
                f"EVSE {spec.evse_id} reports phase rotation {rotation!r}, the site file says "
                f"{spec.phases}: check the wiring or the site file"
            )
    return problems
