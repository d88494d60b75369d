"""A fleet of simulated stations: N charge points run concurrently, and the cars that use them.

:class:`Fleet` starts, per station, a physics loop and a connection keeper that reconnects with
exponential backoff whenever the connection drops or cannot be made; and one driver that plugs
in each :class:`~ems.sim.arrivals.Arrival` when its time comes (on the station it names, else
the next station with a free EVSE, round robin) and unplugs it at its departure. Every task
catches and logs its own failures, so a misbehaving or failing station never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ems.domain import OcppVersion
from ems.sim.arrivals import Arrival
from ems.sim.chargepoint import SimChargePoint, StationState
from ems.sim.clock import SleepingClock
from ems.sim.ev import Ev
from ems.sim.station import StationConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays [wall s]: ``initial_s``, times ``factor`` per failure, at most ``max_s``,
    plus up to ``jitter`` of it at random so that many stations do not reconnect in step."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2


@dataclass(slots=True)
class FleetStats:
    """Counters for the demo and tests."""

    arrivals: int = 0
    turned_away: int = 0
    departures: int = 0
    connections: int = 0
    connection_failures: int = 0


class Fleet:
    """N simulated stations against the CSMS at ``url`` (``ws://`` or ``wss://host:port/path``;
    each station appends its id)."""

    def __init__(
        self,
        stations: Sequence[StationConfig],
        clock: SleepingClock,
        url: str,
        *,
        arrivals: Iterable[Arrival] = (),
        ssl_context: ssl.SSLContext | None = None,
        backoff: Backoff = Backoff(),
        tick_s: float = 1.0,
        response_timeout_s: float = 30.0,
    ) -> None:
        ids = [s.id for s in stations]
        if len(set(ids)) != len(ids):
            raise ValueError("station ids must be unique")
        self.clock = clock
        self.backoff = backoff
        self.chargepoints = {
            config.id: SimChargePoint(
                config,
                clock,
                url,
                ssl_context=ssl_context,
                tick_s=tick_s,
                response_timeout_s=response_timeout_s,
            )
            for config in stations
        }
        self.stats = FleetStats()
        self._arrivals = arrivals
        self._order = list(self.chargepoints)
        self._next = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rng = random.Random(0)

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every station and the arrivals; returns at once."""
        for cp in self.chargepoints.values():
            self._spawn(self._keep_connected(cp), f"{cp.id} connection")
            self._spawn(cp.run_physics(), f"{cp.id} physics")
        self._spawn(self._drive(self._arrivals), "arrivals")

    async def stop(self) -> None:
        """Stop every task and close every connection."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(
            *(cp.close() for cp in self.chargepoints.values()), return_exceptions=True
        )

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", name)

    async def _keep_connected(self, cp: SimChargePoint) -> None:
        delay_s = self.backoff.initial_s
        while True:
            try:
                self.stats.connections += 1
                await cp.serve()
                log.info("%s: connection closed", cp.id)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.stats.connection_failures += 1
                log.warning("%s: connection failed: %s", cp.id, error or type(error).__name__)
            if cp.was_accepted:
                delay_s = self.backoff.initial_s  # it worked for a while: start over
                cp.was_accepted = False
            wait_s = delay_s * (1.0 + self.backoff.jitter * self._rng.random())
            await asyncio.sleep(wait_s)
            delay_s = min(self.backoff.max_s, delay_s * self.backoff.factor)

    # ---- cars ------------------------------------------------------------------------------

    async def _drive(self, arrivals: Iterable[Arrival]) -> None:
        for arrival in arrivals:
            await self.clock.sleep_until(arrival.arrival)
            self.arrive(arrival)

    def arrive(self, arrival: Arrival) -> tuple[str, int] | None:
        """Plug the car of ``arrival`` in now; returns (station id, EVSE id), or None when no
        EVSE is free (the car is turned away). It leaves at ``arrival.departure``."""
        self.stats.arrivals += 1
        cp = self._station_for(arrival.station_id)
        if cp is None:
            self.stats.turned_away += 1
            log.info("no free EVSE for %s: turned away", arrival.id_token)
            return None
        ev = Ev(arrival.ev, arrival.soc, arrival.target_soc)
        evse_id = cp.plug_in(ev, arrival.id_token, departure=arrival.departure)
        self._spawn(self._depart(cp, evse_id, arrival), f"{cp.id} departure")
        return cp.id, evse_id

    def _station_for(self, station_id: str | None) -> SimChargePoint | None:
        if station_id is not None:
            cp = self.chargepoints.get(station_id)
            if cp is not None and cp.station.free_evse() is not None:
                return cp
        for step in range(len(self._order)):
            candidate = self.chargepoints[self._order[(self._next + step) % len(self._order)]]
            if candidate.station.free_evse() is not None:
                self._next = (self._next + step + 1) % len(self._order)
                return candidate
        return None

    async def _depart(self, cp: SimChargePoint, evse_id: int, arrival: Arrival) -> None:
        await self.clock.sleep_until(arrival.departure)
        evse = cp.station.evses[evse_id]
        if evse.id_token == arrival.id_token:
            await cp.unplug(evse_id)
            self.stats.departures += 1

    # ---- views -----------------------------------------------------------------------------

    def state(self, station_id: str) -> StationState:
        return self.chargepoints[station_id].state()

    def states(self) -> list[StationState]:
        return [cp.state() for cp in self.chargepoints.values()]

    @property
    def power_w(self) -> float:
        """What all cars draw together now [W]."""
        return sum(cp.state().power_w for cp in self.chargepoints.values())

    async def wait_accepted(self, timeout_s: float = 30.0) -> None:
        """Wait [wall s] until every station has booted Accepted; TimeoutError names those not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            waiting = [i for i, cp in self.chargepoints.items() if cp.registration != "Accepted"]
            if not waiting:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"not accepted after {timeout_s} s: {', '.join(waiting[:10])}")
            await asyncio.sleep(0.02)


def make_stations(
    count: int,
    version: str = "1.6",
    *,
    id_prefix: str = "SIM-",
    **capabilities: Any,
) -> list[StationConfig]:
    """``count`` stations ``SIM-001``... speaking ``version``: ``1.6``, ``2.0.1``, or ``mixed``
    (alternating, 1.6 first); ``capabilities`` are further :class:`StationConfig` fields."""
    versions = {"1.6": [OcppVersion.V16], "2.0.1": [OcppVersion.V201]}
    versions["mixed"] = [OcppVersion.V16, OcppVersion.V201]
    if version not in versions:
        raise ValueError(f"version must be 1.6, 2.0.1 or mixed, not {version!r}")
    if count < 1:
        raise ValueError("count must be at least 1")
    cycle = versions[version]
    width = max(3, len(str(count)))
    return [
        StationConfig(f"{id_prefix}{n:0{width}d}", cycle[(n - 1) % len(cycle)], **capabilities)
        for n in range(1, count + 1)
    ]
