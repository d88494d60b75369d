"""The one boundary between the control loop and the chargers it controls.

As in acnportal's ``Interface``, the control loop sees the world only through
:class:`SiteInterface`: a :class:`Snapshot` of what is plugged in and measured, and
:meth:`SiteInterface.apply` to hand over limits. The live system implements it over OCPP
(:class:`ems.control.live.LiveSite`); the replay implements it on a simulated clock, so the same
loop and optimizer code run in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class NeedSource(StrEnum):
    """Where a session's departure time or energy came from, most trusted first."""

    EV = "ev"  # ISO 15118 NotifyEVChargingNeeds
    DRIVER = "driver"  # entered by the driver (REST API, QR page)
    FORECAST = "forecast"  # predicted from history
    DEFAULT = "default"  # the site's default


@dataclass(frozen=True, slots=True)
class ActiveSession:
    """A car plugged in at one of the site's chargers, as the world reports it.

    ``key`` is the charger's key (``"{charge_point_id}/{evse_id}"``). Departure and energy are
    given per source; the loop picks the most trusted one (:func:`ems.control.problem.needs`).
    ``measured_*`` are None when the charger reports no meter values: it is then assumed to draw
    its limit. ``applied_limit_a`` is the limit the car was drawing under when measured.
    ``idle_since``: since when the car has drawn nothing under a limit it could have used
    (:class:`ems.control.idle.IdleTracker`).
    """

    key: str
    session_id: str
    transaction_id: str
    arrival: datetime
    energy_delivered_kwh: float
    id_token: str | None = None
    ev_departure: datetime | None = None
    ev_energy_kwh: float | None = None
    ev_max_current_a: float | None = None
    driver_departure: datetime | None = None
    driver_energy_kwh: float | None = None
    measured_power_w: float | None = None
    measured_current_a: float | None = None
    measured_at: datetime | None = None
    applied_limit_a: float | None = None
    phases_used: int | None = None
    charging: bool = False
    idle_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChargerView:
    """A charger of the site: whether ems can reach and control it, and what it last sent it.

    An uncontrollable charger (offline, or rejecting charging profiles) is budgeted at its
    maximum draw; ``applied_limit_a`` is the TxProfile limit in force (None: its default).
    """

    key: str
    online: bool
    controllable: bool
    applied_limit_a: float | None = None
    limit_valid_until: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    """The state of a site at ``now``: sessions, chargers, and the load that is not EVs."""

    now: datetime
    sessions: tuple[ActiveSession, ...]
    chargers: Mapping[str, ChargerView]
    other_load_kw: float | None = None
    peak_so_far_kw: float = 0.0


@dataclass(frozen=True, slots=True)
class LimitCommand:
    """A limit for the car on one charger, to be sent as a TxProfile valid until ``valid_until``.

    The limit is given both per phase [A] (with the number of phases the car loads) and as power
    [W]; the live site sends whichever unit the charger accepts.
    """

    key: str
    session_id: str
    transaction_id: str
    limit_a: float
    limit_w: float
    number_phases: int
    valid_until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class LimitAnswer:
    """What became of a :class:`LimitCommand`: ``accepted``, and the charger's word or error."""

    command: LimitCommand
    accepted: bool
    status: str | None
    error: str | None = None


class SiteInterface(Protocol):
    """What the control loop may know and do; implemented by the live site and the replay."""

    def snapshot(self, now: datetime) -> Snapshot:
        """The site's sessions, chargers and other load as of ``now``."""
        ...

    async def apply(self, commands: Sequence[LimitCommand]) -> Sequence[LimitAnswer]:
        """Send the limits (all of them concurrently) and report each one's answer."""
        ...
