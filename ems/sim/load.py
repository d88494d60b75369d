"""Load that remembers what it was promised: simulated charge points with an offline queue.

An acknowledgement is a promise. A charge point deletes a transaction message from its offline
queue once it has the CSMS's CALLRESULT, so whatever the CSMS acknowledged must be in its
database, whenever and however it was stopped. :class:`Load` runs N charge points against a CSMS
and keeps a :class:`Ledger` of every acknowledgement; ``ems.sim.verify`` then compares the ledger
with the database.

Each charge point (OCPP 1.6 or 2.0.1, alternating as ``LoadPlan.versions`` says) behaves as a
real charger's offline queue does:

* it boots and reports its connector's status (charging or available, as it is at that moment,
  whatever is still queued) on every connection, then runs through
  ``LoadPlan.transactions`` transactions: a start (1.6 StartTransaction; 2.0.1 TransactionEvent
  Started with its own transaction id and seqNo), ``meter_values`` periodic samples (1.6
  MeterValues with the transaction id; 2.0.1 TransactionEvent Updated), a stop (1.6
  StopTransaction; 2.0.1 Ended with a stoppedReason and the final register);
* transaction messages wait in a queue and leave it only when acknowledged. When the connection
  drops, the unacknowledged ones stay; the charger reconnects with backoff and resends them in
  order before anything new. While disconnected it keeps charging, so new messages join the queue
  (2.0.1 ones flagged ``offline``), up to ``max_offline_queue``;
* a 1.6 transaction's MeterValues and StopTransaction name the id the CSMS gave its
  StartTransaction: they stay in the queue behind their start, so they are only sent once the
  start is acknowledged and its id known;
* a CALLERROR answer is recorded and the message dropped, as chargers do (it is not acknowledged;
  a 1.6 start refused that way takes its transaction's later messages with it).

Timestamps come from a logical clock per charger (2026-01-01T00:00:00Z, one second per
transaction message), so a sample is identified by charger, timestamp and measurand; the energy
register only increases. One CALL is in flight per connection, as OCPP requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from websockets.exceptions import WebSocketException

from ems.sim.ledger import AckedSample, AckedStart, AckedStop, CallErrorAnswer, Ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TICK = timedelta(seconds=1)

# (measurand, phase, unit) of every periodic sample, Energy.Active.Import.Register first
MEASURANDS: tuple[tuple[str, str | None, str], ...] = (
    ("Energy.Active.Import.Register", None, "Wh"),
    ("Power.Active.Import", None, "W"),
    ("Current.Import", "L1", "A"),
    ("SoC", None, "Percent"),
)
ENERGY = MEASURANDS[0][0]

Reading = tuple[str, str | None, str, float]  # measurand, phase, unit, value


@dataclass(frozen=True)
class LoadPlan:
    """What each simulated charge point does, and how patiently."""

    charge_points: int = 10
    versions: tuple[str, ...] = ("1.6", "2.0.1")  # charge point i speaks versions[i % len]
    transactions: int = 3  # per charge point
    meter_values: int = 6  # periodic messages per transaction
    id_prefix: str = "LOAD"
    max_offline_queue: int = 50  # the queue stops growing while disconnected beyond this
    call_timeout_s: float = 30.0  # no answer by then: drop the connection, resend later
    backoff_s: tuple[float, float] = (0.05, 1.0)  # reconnect delay: first, most

    def version_of(self, index: int) -> str:
        return self.versions[index % len(self.versions)]

    @property
    def transaction_messages(self) -> int:
        """Transaction messages all charge points send when nothing is refused."""
        return self.charge_points * self.transactions * (self.meter_values + 2)


@dataclass
class _Message:
    """A queued transaction message; ``payload`` is built when sent (None: drop it)."""

    action: str
    payload: Callable[[], dict[str, Any] | None]
    acked: Callable[[dict[str, Any]], None]


class Load:
    """N charge points against ``url`` (``ws://host:port/ocpp``), recording into ``ledger``."""

    def __init__(self, url: str, plan: LoadPlan) -> None:
        self.url = url.rstrip("/")
        self.plan = plan
        self.ledger = Ledger()
        self.stopping = False
        self._progress = asyncio.Event()
        self._chargers: list[_Charger] = [
            (_Charger16 if plan.version_of(i) == "1.6" else _Charger201)(self, i)
            for i in range(plan.charge_points)
        ]
        for charger in self._chargers:
            self.ledger.versions[charger.id] = charger.version

    async def run(self) -> Ledger:
        """Run every charge point until its plan is acknowledged (or ``stop()``)."""
        async with asyncio.TaskGroup() as group:
            for charger in self._chargers:
                group.create_task(charger.run())
        return self.ledger

    def stop(self) -> None:
        """Send nothing new and stop reconnecting; a CALL in flight still gets its answer."""
        self.stopping = True
        self._progress.set()

    async def wait_until(self, condition: Callable[[Ledger], bool], timeout_s: float) -> None:
        """Return as soon as ``condition(ledger)`` holds; TimeoutError after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition(self.ledger):
            self._progress.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not reached in {timeout_s} s: {self.ledger.summary()}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    def progressed(self) -> None:
        self._progress.set()


class _Charger:
    """One charge point: connection, queue, acknowledgements. Subclasses write the messages."""

    version = ""
    subprotocol = ""

    def __init__(self, load: Load, index: int) -> None:
        self.load = load
        self.plan = load.plan
        self.ledger = load.ledger
        self.index = index
        self.id = f"{self.plan.id_prefix}{index:04d}"
        self.clock = T0
        self.energy_wh = 1000 * index
        self.connected = False
        self.charging = False  # as the charger sees it: started, not yet stopped (acked or not)
        self.queue: deque[_Message] = deque()
        self._script: Iterator[_Message] = self.script()
        self._script_done = False
        self._next_id = 0

    # -- what the charger says (per version) -------------------------------------------------

    def script(self) -> Iterator[_Message]:
        raise NotImplementedError

    def boot(self) -> dict[str, Any]:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- the clock and the meter -------------------------------------------------------------

    def tick(self) -> datetime:
        now = self.clock
        self.clock += TICK
        return now

    def readings(self, step: int) -> list[Reading]:
        """One periodic reading: (measurand, phase, unit, value) with the register advanced."""
        self.energy_wh += 100 + self.index % 7
        values = (self.energy_wh, 7000 + 10 * (step % 50), 16 + step % 4, min(100, 20 + step))
        return [
            (measurand, phase, unit, float(value))
            for (measurand, phase, unit), value in zip(MEASURANDS, values, strict=True)
        ]

    def samples(
        self, transaction_id: str, at: datetime, readings: list[Reading]
    ) -> list[AckedSample]:
        return [
            AckedSample(self.id, transaction_id, at, measurand, phase, value)
            for measurand, phase, _, value in readings
        ]

    # -- the queue -----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.load.stopping or (self._script_done and not self.queue)

    def produce(self) -> bool:
        """Put the next message of the plan in the queue; False when the plan is done."""
        message = next(self._script, None)
        if message is None:
            self._script_done = True
            return False
        self.queue.append(message)
        return True

    async def run(self) -> None:
        low, high = self.plan.backoff_s
        backoff = low
        while not self.finished:
            try:
                async with websockets.connect(
                    f"{self.load.url}/{self.id}",
                    subprotocols=[self.subprotocol],  # type: ignore[list-item]
                    open_timeout=self.plan.call_timeout_s,
                    ping_interval=None,
                    close_timeout=1,
                    compression=None,
                ) as ws:
                    self.ledger.connections += 1
                    self.connected, backoff = True, low
                    await self.session(ws)
            except (OSError, TimeoutError, WebSocketException):
                self.ledger.drops += 1
            finally:
                self.connected = False
            if self.finished:
                return
            if len(self.queue) < self.plan.max_offline_queue:
                self.produce()  # the car keeps charging while the CSMS is away
            await asyncio.sleep(backoff)
            backoff = min(high, backoff * 2)

    async def session(self, ws: websockets.ClientConnection) -> None:
        answer = await self.call(ws, "BootNotification", self.boot())
        if isinstance(answer, CallErrorAnswer) or answer.get("status") != "Accepted":
            raise WebSocketException(f"{self.id}: boot answered {answer}")
        await self.call(ws, "StatusNotification", self.status())
        while not self.load.stopping:
            if not self.queue and not self.produce():
                return
            message = self.queue[0]
            payload = message.payload()
            if payload is None:
                self.queue.popleft()
                self.ledger.errors.append(
                    CallErrorAnswer(self.id, message.action, "NotSent", "its start was refused")
                )
                continue
            answer = await self.call(ws, message.action, payload)
            self.queue.popleft()
            if not isinstance(answer, CallErrorAnswer):
                self.ledger.tx_acked += 1
                message.acked(answer)
            self.load.progressed()

    async def call(
        self, ws: websockets.ClientConnection, action: str, payload: dict[str, Any]
    ) -> dict[str, Any] | CallErrorAnswer:
        """Send one CALL and wait for its answer; a CALL from the CSMS meanwhile is refused."""
        self._next_id += 1
        unique_id = str(self._next_id)
        self.ledger.calls += 1
        began = time.perf_counter()
        await ws.send(json.dumps([2, unique_id, action, payload], separators=(",", ":")))
        async with asyncio.timeout(self.plan.call_timeout_s):
            while True:
                frame = json.loads(await ws.recv())
                if frame[0] == 2:
                    refusal = [4, frame[1], "NotSupported", "load generator", {}]
                    await ws.send(json.dumps(refusal))
                elif frame[1] == unique_id and frame[0] == 3:
                    self.ledger.acked += 1
                    self.ledger.latencies_s.append(time.perf_counter() - began)
                    return dict(frame[2])
                elif frame[1] == unique_id and frame[0] == 4:
                    error = CallErrorAnswer(self.id, action, str(frame[2]), str(frame[3]))
                    self.ledger.errors.append(error)
                    return error


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Tx16:
    wire_id: str | None = None  # known once the CSMS acknowledged the start (never if refused)


class _Charger16(_Charger):
    version = "1.6"
    subprotocol = "ocpp1.6"

    def boot(self) -> dict[str, Any]:
        return {"chargePointVendor": "ems-sim", "chargePointModel": "load"}

    def status(self) -> dict[str, Any]:
        status = "Charging" if self.charging else "Available"
        return {"connectorId": 1, "errorCode": "NoError", "status": status}

    def script(self) -> Iterator[_Message]:
        for _ in range(self.plan.transactions):
            tx = _Tx16()
            self.charging = True
            yield self.start(tx, self.tick(), self.energy_wh)
            for step in range(self.plan.meter_values):
                yield self.meter(tx, self.tick(), self.readings(step))
            self.charging = False
            yield self.stop(tx, self.tick(), self.energy_wh)

    def start(self, tx: _Tx16, at: datetime, meter_wh: int) -> _Message:
        def acked(answer: dict[str, Any]) -> None:
            tx.wire_id = str(answer["transactionId"])
            self.ledger.starts.append(AckedStart(self.id, tx.wire_id, at, float(meter_wh)))
            self.ledger.issued_ids.append((self.id, tx.wire_id))

        payload = {
            "connectorId": 1,
            "idTag": f"TAG{self.index}",
            "meterStart": meter_wh,
            "timestamp": iso(at),
        }
        return _Message("StartTransaction", lambda: payload, acked)

    def meter(self, tx: _Tx16, at: datetime, readings: list[Reading]) -> _Message:
        values = [
            {"value": repr(value), "measurand": measurand, "unit": unit}
            | ({"phase": phase} if phase else {})
            for measurand, phase, unit, value in readings
        ]

        def payload() -> dict[str, Any] | None:
            if tx.wire_id is None:
                return None
            return {
                "connectorId": 1,
                "transactionId": int(tx.wire_id),
                "meterValue": [{"timestamp": iso(at), "sampledValue": values}],
            }

        def acked(_: dict[str, Any]) -> None:
            assert tx.wire_id is not None
            self.ledger.samples.extend(self.samples(tx.wire_id, at, readings))

        return _Message("MeterValues", payload, acked)

    def stop(self, tx: _Tx16, at: datetime, meter_wh: int) -> _Message:
        def payload() -> dict[str, Any] | None:
            if tx.wire_id is None:
                return None
            return {
                "transactionId": int(tx.wire_id),
                "meterStop": meter_wh,
                "timestamp": iso(at),
                "reason": "Local",
            }

        def acked(_: dict[str, Any]) -> None:
            assert tx.wire_id is not None
            self.ledger.stops.append(AckedStop(self.id, tx.wire_id, at, float(meter_wh)))

        return _Message("StopTransaction", payload, acked)


class _Charger201(_Charger):
    version = "2.0.1"
    subprotocol = "ocpp2.0.1"

    def boot(self) -> dict[str, Any]:
        return {"reason": "PowerUp", "chargingStation": {"model": "load", "vendorName": "ems-sim"}}

    def status(self) -> dict[str, Any]:
        return {
            "timestamp": iso(self.clock),
            "connectorStatus": "Occupied" if self.charging else "Available",
            "evseId": 1,
            "connectorId": 1,
        }

    def script(self) -> Iterator[_Message]:
        for number in range(self.plan.transactions):
            transaction_id = f"{self.id}-T{number}"
            energy: list[Reading] = [(ENERGY, None, "Wh", float(self.energy_wh))]
            self.charging = True
            yield self.event("Started", transaction_id, 0, self.tick(), energy)
            for step in range(self.plan.meter_values):
                readings = self.readings(step)
                yield self.event("Updated", transaction_id, step + 1, self.tick(), readings)
            energy = [(ENERGY, None, "Wh", float(self.energy_wh))]
            seq_no = self.plan.meter_values + 1
            self.charging = False
            yield self.event("Ended", transaction_id, seq_no, self.tick(), energy)

    def event(
        self,
        event_type: str,
        transaction_id: str,
        seq_no: int,
        at: datetime,
        readings: list[Reading],
    ) -> _Message:
        context, trigger = {
            "Started": ("Transaction.Begin", "Authorized"),
            "Updated": ("Sample.Periodic", "MeterValuePeriodic"),
            "Ended": ("Transaction.End", "StopAuthorized"),
        }[event_type]
        values = [
            {
                "value": value,
                "measurand": measurand,
                "context": context,
                "unitOfMeasure": {"unit": unit},
            }
            | ({"phase": phase} if phase else {})
            for measurand, phase, unit, value in readings
        ]
        info: dict[str, Any] = {"transactionId": transaction_id, "chargingState": "Charging"}
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": iso(at),
            "triggerReason": trigger,
            "seqNo": seq_no,
            "transactionInfo": info,
            "meterValue": [{"timestamp": iso(at), "sampledValue": values}],
        }
        if event_type == "Started":
            payload["idToken"] = {"idToken": f"TAG{self.index}", "type": "ISO14443"}
            payload["evse"] = {"id": 1, "connectorId": 1}
        if event_type == "Ended":
            info["stoppedReason"] = "Local"
            info["chargingState"] = "Idle"
        if not self.connected:
            payload["offline"] = True

        def acked(_: dict[str, Any]) -> None:
            self.ledger.samples.extend(self.samples(transaction_id, at, readings))
            if event_type == "Started":
                start = AckedStart(self.id, transaction_id, at, readings[0][3])
                self.ledger.starts.append(start)
            elif event_type == "Ended":
                stop = AckedStop(self.id, transaction_id, at, readings[0][3])
                self.ledger.stops.append(stop)

        return _Message("TransactionEvent", lambda: payload, acked)
