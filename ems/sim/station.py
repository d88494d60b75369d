"""A simulated station's state and physics, independent of OCPP version and connection.

:class:`Station` holds the EVSEs, the cars plugged into them, the charging profiles and the
configuration keys. :meth:`Station.tick` moves time forward: every car charges at what it drew
since the last tick (power is piecewise constant between ticks), then each EVSE's composite
limit is re-evaluated and each car's draw recomputed. A ``ChargePointMaxProfile`` caps the sum
of all EVSEs: when the cars together would draw more, each gets the same share of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from ems.domain import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ConnectorStatus,
    OcppVersion,
)
from ems.sim.ev import NO_DRAW, Draw, Ev, Offer
from ems.sim.profiles import Limit, ProfileSet, TxContext
from ems.sim.settings import StationSettings, rate_units_16

SUPPORTED_VERSIONS = (OcppVersion.V16, OcppVersion.V201)


@dataclass(frozen=True, slots=True)
class StationConfig:
    """What a simulated station is and can do.

    ``max_current_a`` is each EVSE's rating per phase; ``dc_max_power_w`` makes the station a DC
    charger of that power. ``rate_units`` are the charging-rate units it accepts in profiles.
    ``rejects_profiles`` makes it answer Rejected to every SetChargingProfile and
    ``sends_meter_values=False`` keeps it from sending any (misbehaving chargers for tests).
    """

    id: str
    version: OcppVersion = OcppVersion.V16
    evse_count: int = 1
    max_current_a: float = 32.0
    phases: int = 3
    voltage_v: float = 230.0
    dc_max_power_w: float | None = None
    rate_units: frozenset[ChargingRateUnit] = frozenset({ChargingRateUnit.A, ChargingRateUnit.W})
    max_stack_level: int = 8
    max_periods: int = 24
    phase_switch: bool = False
    rejects_profiles: bool = False
    sends_meter_values: bool = True
    meter_interval_s: int = 10
    heartbeat_interval_s: int = 300
    password: str | None = None
    vendor: str = "ems"
    model: str = "SimCharger"

    def __post_init__(self) -> None:
        if not self.id or "/" in self.id:
            raise ValueError(f"id: a charge point id must be non-empty without '/': {self.id!r}")
        if self.version not in SUPPORTED_VERSIONS:
            raise ValueError(f"{self.id}: version must be ocpp1.6 or ocpp2.0.1, not {self.version}")
        if self.evse_count < 1:
            raise ValueError(f"{self.id}: evse_count must be at least 1")
        if self.phases not in (1, 3):
            raise ValueError(f"{self.id}: phases must be 1 or 3, got {self.phases}")
        if self.max_current_a <= 0:
            raise ValueError(f"{self.id}: max_current_a must be positive")
        if not self.rate_units:
            raise ValueError(f"{self.id}: rate_units needs at least one of A and W")
        if self.meter_interval_s < 0 or self.heartbeat_interval_s < 0:
            raise ValueError(f"{self.id}: meter_interval_s and heartbeat_interval_s must be >= 0")

    @property
    def dc(self) -> bool:
        return self.dc_max_power_w is not None

    @property
    def rating(self) -> Limit:
        """Each EVSE's own maximum, where no profile limits it."""
        if self.dc_max_power_w is not None:
            return Limit(self.dc_max_power_w, ChargingRateUnit.W)
        return Limit(self.max_current_a, ChargingRateUnit.A, self.phases)


@dataclass(frozen=True, slots=True)
class Reading:
    """One sampled value as a meter reports it."""

    measurand: str
    value: float
    unit: str
    phase: str | None = None


@dataclass(slots=True)
class Evse:
    """One EVSE (1.6: connector) and the session on it."""

    evse_id: int
    operative: bool = True
    ev: Ev | None = None
    id_token: str | None = None
    departure: datetime | None = None
    transaction_id: str | None = None
    tx_started_at: datetime | None = None
    remote_start_id: int | None = None
    pending_remote_token: str | None = None
    finished: bool = False
    """The transaction ended while the car is still plugged in (Finishing)."""
    seq_no: int = 0
    register_wh: float = 0.0
    limit: Limit | None = None
    offer: Offer = field(default_factory=Offer)
    draw: Draw = NO_DRAW

    @property
    def tx(self) -> TxContext | None:
        if self.transaction_id is None or self.tx_started_at is None:
            return None
        return TxContext(self.transaction_id, self.tx_started_at)

    @property
    def status(self) -> ConnectorStatus:
        """The 1.6 status word; 2.0.1 reports Occupied for the plugged-in states."""
        if self.ev is None:
            return ConnectorStatus.AVAILABLE if self.operative else ConnectorStatus.UNAVAILABLE
        if self.transaction_id is None:
            return ConnectorStatus.FINISHING if self.finished else ConnectorStatus.PREPARING
        if self.draw.power_w > 0:
            return ConnectorStatus.CHARGING
        if self.ev.full:
            return ConnectorStatus.SUSPENDED_EV
        return ConnectorStatus.SUSPENDED_EVSE

    def next_seq_no(self) -> int:
        seq_no = self.seq_no
        self.seq_no += 1
        return seq_no


class Station:
    """State and physics of one simulated station."""

    def __init__(self, config: StationConfig, now: datetime) -> None:
        self.config = config
        self.evses = {i: Evse(i) for i in range(1, config.evse_count + 1)}
        self.profiles = ProfileSet()
        units = ",".join(sorted(u.value for u in config.rate_units))
        self.settings = StationSettings(
            number_of_connectors=config.evse_count,
            rate_units=rate_units_16(units),
            max_stack_level=config.max_stack_level,
            max_periods=config.max_periods,
            phase_switch=config.phase_switch,
            heartbeat_interval_s=config.heartbeat_interval_s,
            meter_interval_s=config.meter_interval_s,
        )
        self.last_tick = now

    def evse(self, evse_id: int) -> Evse:
        try:
            return self.evses[evse_id]
        except KeyError:
            raise ValueError(f"{self.config.id} has no EVSE {evse_id}") from None

    def free_evse(self) -> Evse | None:
        """The first operative EVSE without a car, if any."""
        return next((e for e in self.evses.values() if e.ev is None and e.operative), None)

    # ---- physics ---------------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        """Charge every car for the time since the last tick, then apply the limits in force."""
        dt_s = (now - self.last_tick).total_seconds()
        if dt_s > 0:
            for evse in self.evses.values():
                if evse.ev is not None and evse.transaction_id is not None:
                    evse.register_wh += evse.ev.advance(dt_s, evse.offer) * 1000.0
            self.last_tick = now
        self._apply_limits(now)

    def _offer(self, limit: Limit | None) -> Offer:
        config = self.config
        rating = config.rating
        limit_a = rating.value if rating.unit is ChargingRateUnit.A else None
        limit_w = rating.value if rating.unit is ChargingRateUnit.W else None
        if limit is not None and limit.unit is ChargingRateUnit.A:
            limit_a = limit.value if limit_a is None else min(limit_a, limit.value)
        elif limit is not None:
            limit_w = limit.value if limit_w is None else min(limit_w, limit.value)
        phases = min(config.phases, limit.number_phases if limit is not None else config.phases)
        return Offer(limit_a, limit_w, phases, config.voltage_v, config.dc)

    def _apply_limits(self, now: datetime) -> None:
        config = self.config
        for evse in self.evses.values():
            evse.limit = self.profiles.limit_at(
                evse.evse_id, now, evse.tx, voltage_v=config.voltage_v, phases=config.phases
            )
            evse.offer = self._offer(evse.limit)
            charging = evse.ev is not None and evse.transaction_id is not None
            evse.draw = evse.ev.draw(evse.offer) if evse.ev is not None and charging else NO_DRAW
        station_max = self.profiles.limit_at(0, now, phases=config.phases)
        if station_max is None:
            return
        cap_w = station_max.power_w(config.voltage_v, config.phases)
        total_w = sum(e.draw.power_w for e in self.evses.values())
        if total_w <= cap_w:
            return
        share = cap_w / total_w
        for evse in self.evses.values():
            if evse.ev is not None and evse.draw.power_w > 0:
                base = evse.offer
                evse.offer = Offer(
                    base.limit_a, evse.draw.power_w * share, base.phases, base.voltage_v, base.dc
                )
                evse.draw = evse.ev.draw(evse.offer)

    def readings(self, evse: Evse, measurands: tuple[str, ...]) -> list[Reading]:
        """The sampled values of ``measurands`` on ``evse`` now."""
        out: list[Reading] = []
        draw = evse.draw
        car_phases = evse.ev.model.ac_phases if evse.ev is not None else self.config.phases
        phases = min(draw.phases or car_phases, self.config.phases)
        offered_a = evse.offer.limit_a if evse.offer.limit_a is not None else 0.0
        for measurand in measurands:
            if measurand == "Energy.Active.Import.Register":
                out.append(Reading(measurand, round(evse.register_wh, 1), "Wh"))
            elif measurand == "Power.Active.Import":
                out.append(Reading(measurand, round(draw.power_w, 1), "W"))
            elif measurand == "Power.Offered":
                offered_w = self.offered_power_w(evse)
                out.append(Reading(measurand, round(offered_w, 1), "W"))
            elif measurand == "Current.Import":
                out.extend(
                    Reading(measurand, round(draw.current_a, 2), "A", f"L{n}")
                    for n in range(1, phases + 1)
                )
            elif measurand == "Current.Offered":
                out.append(Reading(measurand, round(offered_a, 2), "A"))
            elif measurand == "Voltage":
                out.extend(
                    Reading(measurand, self.config.voltage_v, "V", f"L{n}-N")
                    for n in range(1, phases + 1)
                )
            elif measurand == "SoC" and evse.ev is not None:
                out.append(Reading(measurand, round(evse.ev.soc * 100.0, 1), "Percent"))
        return out

    def offered_power_w(self, evse: Evse) -> float:
        """Power [W] the EVSE offers the car now (its limit, not what the car takes)."""
        offer = evse.offer
        values = []
        if offer.limit_a is not None:
            values.append(offer.limit_a * offer.voltage_v * offer.phases)
        if offer.limit_w is not None:
            values.append(offer.limit_w)
        return min(values) if values else 0.0

    # ---- profiles --------------------------------------------------------------------------

    def check_profile(self, evse_id: int, profile: ChargingProfile) -> str | None:
        """Why this station refuses ``profile`` on ``evse_id``, or None when it accepts it."""
        config = self.config
        if config.rejects_profiles:
            return "this station rejects every charging profile"
        if evse_id != 0 and evse_id not in self.evses:
            return f"no EVSE {evse_id}"
        if profile.schedule.unit not in config.rate_units:
            return f"charging rate unit {profile.schedule.unit} not allowed"
        if profile.stack_level > config.max_stack_level:
            return f"stack level {profile.stack_level} above {config.max_stack_level}"
        if len(profile.schedule.periods) > config.max_periods:
            return f"more than {config.max_periods} periods"
        if not profile.schedule.periods or profile.schedule.periods[0].start_s != 0:
            return "the first period must start at 0"
        purpose = profile.purpose
        if purpose is ChargingProfilePurpose.CHARGE_POINT_MAX and evse_id != 0:
            return "a ChargePointMaxProfile belongs on EVSE 0"
        if purpose is ChargingProfilePurpose.TX:
            if evse_id == 0:
                return "a TxProfile belongs on an EVSE"
            running = self.evses[evse_id].transaction_id
            if running is None:
                return "no transaction on the EVSE"
            if profile.transaction_id not in (None, running):
                return f"transaction {profile.transaction_id} is not the one running"
        return None

    def install_profile(self, evse_id: int, profile: ChargingProfile, now: datetime) -> None:
        """Install an accepted profile (a TxProfile names its transaction) and apply it now."""
        if profile.purpose is ChargingProfilePurpose.TX and profile.transaction_id is None:
            profile = replace(profile, transaction_id=self.evses[evse_id].transaction_id)
        self.tick(now)
        self.profiles.install(evse_id, profile, now)
        self._apply_limits(now)

    def clear_profiles(
        self,
        now: datetime,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ChargingProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> int:
        self.tick(now)
        removed = self.profiles.clear(
            profile_id=profile_id, evse_id=evse_id, purpose=purpose, stack_level=stack_level
        )
        self._apply_limits(now)
        return removed

    def composite(
        self, evse_id: int, duration_s: int, unit: ChargingRateUnit | None, now: datetime
    ) -> ChargingSchedule:
        """The composite schedule of ``evse_id`` (0: the station) from now."""
        if evse_id != 0 and evse_id not in self.evses:
            raise ValueError(f"no EVSE {evse_id}")
        config = self.config
        if unit is None:
            unit = (
                ChargingRateUnit.A
                if ChargingRateUnit.A in config.rate_units
                else ChargingRateUnit.W
            )
        rating = config.rating
        if evse_id == 0:
            rating = Limit(rating.value * len(self.evses), rating.unit, rating.number_phases)
        tx = self.evses[evse_id].tx if evse_id else None
        return self.profiles.composite(
            evse_id,
            now,
            duration_s,
            unit=unit,
            default=rating,
            tx=tx,
            voltage_v=config.voltage_v,
            phases=config.phases,
        )
