"""A simulated charge point: a :class:`~ems.sim.station.Station` on an OCPP connection.

:class:`SimChargePoint` owns the station's life: the physics loop (each tick charges the cars
and re-applies the composite limits, reporting status changes), one connection at a time
(:meth:`SimChargePoint.serve` connects, boots, then sends heartbeats and meter values until the
connection closes) and the sessions (:meth:`plug_in`, :meth:`unplug`, and the CSMS's remote
start/stop). The OCPP version lives in a *wire* (:mod:`ems.sim.v16`, :mod:`ems.sim.v201`): the
``ocpp`` library's client ChargePoint with the station's message handlers, which sends what the
station asks for and answers the CSMS from the station's state.

Handlers never wait on a call to the CSMS (the ``ocpp`` library reads the next message only when
a handler has returned); follow-up messages run as tasks (:meth:`SimChargePoint.spawn`).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import websockets

from ems.domain import ChargingProfile, ConnectorStatus, OcppVersion
from ems.sim.clock import SleepingClock
from ems.sim.ev import Ev
from ems.sim.profiles import Limit
from ems.sim.station import Evse, Reading, Station, StationConfig

log = logging.getLogger(__name__)

REBOOT_S = 10.0
"""Simulated seconds a station takes from accepting a Reset to dropping its connection."""


class StopReason(enum.StrEnum):
    """Why a transaction ended, in 1.6 words (the 2.0.1 wire maps them)."""

    EV_DISCONNECTED = "EVDisconnected"
    LOCAL = "Local"
    REMOTE = "Remote"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    DEAUTHORIZED = "DeAuthorized"
    UNLOCK_COMMAND = "UnlockCommand"


@dataclass(frozen=True, slots=True)
class BootAnswer:
    status: str
    interval_s: int


@dataclass(frozen=True, slots=True)
class TxEnd:
    """A finished transaction, kept until the CSMS has been told (possibly after a reconnect)."""

    evse_id: int
    transaction_id: str
    id_token: str | None
    meter_stop_wh: float
    timestamp: datetime
    reason: StopReason
    seq_no: int
    readings: tuple[Reading, ...]
    offline: bool = False


class Wire(Protocol):
    """One OCPP version's side of a station: outgoing messages and the incoming handlers."""

    async def start(self) -> None:
        """Serve incoming messages until the connection closes."""

    async def boot(self, reason: str) -> BootAnswer: ...

    async def heartbeat(self) -> None: ...

    async def status(self, evse: Evse, old: ConnectorStatus | None) -> None:
        """Tell the CSMS ``evse`` changed status from ``old`` (None: report it afresh)."""

    async def station_status(self) -> None:
        """Report the station as a whole, where the version has that (1.6 connector 0)."""

    async def authorize(self, id_token: str) -> bool: ...

    async def start_transaction(self, evse: Evse, now: datetime) -> bool:
        """Start a transaction for the car on ``evse``; sets ``evse.transaction_id``."""

    async def meter_values(self, evse: Evse, readings: list[Reading], now: datetime) -> None: ...

    async def stop_transaction(self, end: TxEnd) -> None: ...


@dataclass(frozen=True, slots=True)
class EvseState:
    """A read-only view of one EVSE for tests and the demo."""

    evse_id: int
    status: ConnectorStatus
    transaction_id: str | None
    limit: Limit | None
    power_w: float
    current_a: float
    phases: int
    energy_register_wh: float
    session_energy_kwh: float | None
    soc: float | None


@dataclass(frozen=True, slots=True)
class StationState:
    """A read-only view of one station."""

    id: str
    version: OcppVersion
    connected: bool
    registration: str | None
    evses: tuple[EvseState, ...]

    @property
    def power_w(self) -> float:
        return sum(e.power_w for e in self.evses)


def basic_auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class SimChargePoint:
    """One simulated station speaking OCPP to ``url`` (``ws://host:port/ocpp``; the id is
    appended). Start :meth:`run_physics` once and :meth:`serve` for each connection."""

    def __init__(
        self,
        config: StationConfig,
        clock: SleepingClock,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        tick_s: float = 1.0,
        response_timeout_s: float = 30.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.url = f"{url.rstrip('/')}/{config.id}"
        self.ssl_context = ssl_context
        self.tick_s = tick_s
        self.response_timeout_s = response_timeout_s
        self.station = Station(config, clock())
        self.connected = False
        self.registration: str | None = None
        self.boot_reason = "PowerUp"
        self.was_accepted = False
        """Whether the last connection got as far as an accepted boot."""
        self._wire: Wire | None = None
        self._accepted = asyncio.Event()
        self._reported: dict[int, ConnectorStatus] = {}
        self._starting: set[int] = set()
        self._remote_profiles: dict[int, ChargingProfile] = {}
        self._outbox: list[TxEnd] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connection: Any = None

    @property
    def id(self) -> str:
        return self.config.id

    # ---- background work -------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` in the background; a failure is logged, never raised to the caller."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: %s", self.id, task.exception())

    async def close(self) -> None:
        """Cancel background work and close the connection (the fleet's stop)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()

    # ---- physics ---------------------------------------------------------------------------

    async def run_physics(self) -> None:
        """Tick the station every ``tick_s`` simulated seconds, forever."""
        while True:
            await self.clock.sleep(self.tick_s)
            self.update()

    def update(self) -> None:
        """Tick the station now and report any status change."""
        self.station.tick(self.clock())
        if self._wire is None or not self._accepted.is_set():
            return
        for evse in self.station.evses.values():
            status = evse.status
            old = self._reported.get(evse.evse_id)
            if status is not old:
                self._reported[evse.evse_id] = status
                self.spawn(self._wire.status(evse, old))

    # ---- connection ------------------------------------------------------------------------

    async def serve(self) -> None:
        """Connect, boot and serve until the connection closes (raises why it could not)."""
        from ems.sim.v16 import Wire16
        from ems.sim.v201 import Wire201

        headers = None
        if self.config.password is not None:
            headers = basic_auth_header(self.id, self.config.password)
        async with websockets.connect(
            self.url,
            subprotocols=[self.config.version.value],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=self.ssl_context,
            open_timeout=self.response_timeout_s,
        ) as ws:
            self._connection = ws
            wire_class = Wire16 if self.config.version is OcppVersion.V16 else Wire201
            wire = wire_class(self, ws)
            reader = asyncio.create_task(wire.start())
            session = asyncio.create_task(self._session(wire))
            self.connected = True
            try:
                done, _ = await asyncio.wait({reader, session}, return_when="FIRST_COMPLETED")
                for task in done:
                    if task is session:
                        task.result()
            finally:
                self.connected = False
                self.was_accepted = self._accepted.is_set()
                self.registration = None
                self._wire = None
                self._accepted.clear()
                self._reported.clear()
                self._connection = None
                for task in (reader, session):
                    task.cancel()
                await asyncio.gather(reader, session, return_exceptions=True)

    async def _session(self, wire: Wire) -> None:
        while True:
            answer = await wire.boot(self.boot_reason)
            self.registration = answer.status
            if answer.status == "Accepted":
                break
            await self.clock.sleep(answer.interval_s or 60)
        self.boot_reason = "PowerUp"
        if answer.interval_s > 0:
            self.station.settings.heartbeat_interval_s = answer.interval_s
        self._wire = wire
        self._accepted.set()
        self.station.tick(self.clock())
        await wire.station_status()
        for evse in self.station.evses.values():
            self._reported[evse.evse_id] = evse.status
            await wire.status(evse, None)
        while self._outbox:
            await wire.stop_transaction(self._outbox.pop(0))
        for evse in self.station.evses.values():
            if evse.ev is not None and evse.transaction_id is None and not evse.finished:
                self.spawn(self._start_session(evse))
        await asyncio.gather(self._heartbeats(wire), self._meter_values(wire))

    async def _heartbeats(self, wire: Wire) -> None:
        while True:
            interval_s = self.station.settings.heartbeat_interval_s
            await self.clock.sleep(interval_s if interval_s > 0 else 60)
            if interval_s > 0:
                await wire.heartbeat()

    async def _meter_values(self, wire: Wire) -> None:
        while True:
            interval_s = self.station.settings.meter_interval_s
            await self.clock.sleep(interval_s if interval_s > 0 else 10)
            if interval_s <= 0 or not self.config.sends_meter_values:
                continue
            await self.send_meter_values(wire)

    async def send_meter_values(self, wire: Wire, evse_id: int | None = None) -> None:
        """Meter values of every EVSE with a transaction (or of ``evse_id``), now."""
        self.update()
        now = self.clock()
        measurands = self.station.settings.measurands
        for evse in self.station.evses.values():
            if evse.transaction_id is None or evse_id not in (None, evse.evse_id):
                continue
            await wire.meter_values(evse, self.station.readings(evse, measurands), now)

    # ---- sessions --------------------------------------------------------------------------

    def plug_in(
        self,
        ev: Ev,
        id_token: str,
        *,
        evse_id: int | None = None,
        departure: datetime | None = None,
    ) -> int:
        """A car arrives and plugs in; its transaction starts once the CSMS accepts its token.

        Returns the EVSE it took. Raises ``ValueError`` when that EVSE (or, without one, every
        EVSE) is taken or out of service.
        """
        if evse_id is None:
            free = self.station.free_evse()
            if free is None:
                raise ValueError(f"{self.id}: no free EVSE")
            evse = free
        else:
            evse = self.station.evse(evse_id)
            if evse.ev is not None or not evse.operative:
                raise ValueError(f"{self.id}: EVSE {evse_id} is taken or out of service")
        self.station.tick(self.clock())
        evse.ev, evse.id_token, evse.departure, evse.finished = ev, id_token, departure, False
        self.update()
        self.spawn(self._start_session(evse))
        return evse.evse_id

    async def _start_session(self, evse: Evse) -> None:
        if evse.evse_id in self._starting:
            return
        self._starting.add(evse.evse_id)
        try:
            await self._accepted.wait()
            wire = self._wire
            if wire is None or evse.ev is None or evse.transaction_id is not None:
                return
            remote = evse.pending_remote_token is not None
            token = evse.pending_remote_token or evse.id_token or ""
            evse.id_token = token
            needs_auth = not remote or self.station.settings.authorize_remote_start
            if needs_auth and not await wire.authorize(token):
                log.info("%s: token %s not accepted on EVSE %d", self.id, token, evse.evse_id)
                evse.finished = True
                self.update()
                return
            if not await wire.start_transaction(evse, self.clock()):
                await self.stop_transaction(evse, StopReason.DEAUTHORIZED)
                return
            evse.pending_remote_token = None
            profile = self._remote_profiles.pop(evse.evse_id, None)
            if profile is not None:
                self.station.install_profile(evse.evse_id, profile, self.clock())
            self.update()
            if self.config.sends_meter_values and self.station.settings.meter_interval_s > 0:
                await self.send_meter_values(wire, evse.evse_id)
        finally:
            self._starting.discard(evse.evse_id)

    async def stop_transaction(self, evse: Evse, reason: StopReason) -> None:
        """End the transaction on ``evse`` (the car stays plugged in: Finishing)."""
        if evse.transaction_id is None:
            return
        now = self.clock()
        self.station.tick(now)
        readings = self.station.readings(evse, ("Energy.Active.Import.Register", "SoC"))
        end = TxEnd(
            evse_id=evse.evse_id,
            transaction_id=evse.transaction_id,
            id_token=evse.id_token,
            meter_stop_wh=evse.register_wh,
            timestamp=now,
            reason=reason,
            seq_no=evse.next_seq_no(),
            readings=tuple(readings),
            offline=self._wire is None,
        )
        evse.transaction_id = evse.tx_started_at = evse.remote_start_id = None
        evse.finished = True
        self.station.profiles.end_transaction(evse.evse_id)
        wire = self._wire
        if wire is None:
            self._outbox.append(end)
        else:
            try:
                await wire.stop_transaction(end)
            except Exception:
                self._outbox.append(end)
                raise
        self.update()

    async def unplug(self, evse_id: int) -> None:
        """The car on ``evse_id`` leaves: its transaction ends (EVDisconnected)."""
        evse = self.station.evse(evse_id)
        if evse.transaction_id is not None:
            await self.stop_transaction(evse, StopReason.EV_DISCONNECTED)
        evse.ev = evse.id_token = evse.departure = evse.pending_remote_token = None
        evse.finished = False
        self._remote_profiles.pop(evse_id, None)
        self.update()

    def remote_start(
        self,
        id_token: str,
        evse_id: int | None,
        profile: ChargingProfile | None,
        remote_start_id: int | None = None,
    ) -> bool:
        """The CSMS asks to start a transaction: accepted when an EVSE is free for it."""
        if evse_id is not None:
            if evse_id not in self.station.evses:
                return False
            evse = self.station.evses[evse_id]
        else:
            waiting = [e for e in self.station.evses.values() if e.ev and not e.transaction_id]
            found = waiting[0] if waiting else self.station.free_evse()
            if found is None:
                return False
            evse = found
        if evse.transaction_id is not None or not evse.operative:
            return False
        evse.pending_remote_token = id_token
        evse.remote_start_id = remote_start_id
        evse.finished = False
        if profile is not None:
            self._remote_profiles[evse.evse_id] = profile
        if evse.ev is not None:
            self.spawn(self._start_session(evse))
        return True

    def remote_stop(self, transaction_id: str) -> bool:
        for evse in self.station.evses.values():
            if evse.transaction_id == transaction_id:
                self.spawn(self.stop_transaction(evse, StopReason.REMOTE))
                return True
        return False

    async def reset(self, reason: StopReason) -> None:
        """Stop every transaction, then drop the connection; the fleet reconnects and boots.

        The reboot takes ``REBOOT_S`` simulated seconds before the connection closes, so the
        CSMS has read everything the station sent first.
        """
        for evse in self.station.evses.values():
            await self.stop_transaction(evse, reason)
        self.boot_reason = "RemoteReset"
        await self.clock.sleep(REBOOT_S)
        if self._connection is not None:
            await self._connection.close()

    # ---- views -----------------------------------------------------------------------------

    def state(self) -> StationState:
        evses = tuple(
            EvseState(
                evse_id=e.evse_id,
                status=e.status,
                transaction_id=e.transaction_id,
                limit=e.limit,
                power_w=e.draw.power_w,
                current_a=e.draw.current_a,
                phases=e.draw.phases,
                energy_register_wh=e.register_wh,
                session_energy_kwh=e.ev.energy_kwh if e.ev is not None else None,
                soc=e.ev.soc if e.ev is not None else None,
            )
            for e in self.station.evses.values()
        )
        return StationState(self.id, self.config.version, self.connected, self.registration, evses)
