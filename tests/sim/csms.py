"""A small central system for the simulator's tests: the ``ocpp`` library's server side.

A websockets server on 127.0.0.1, port 0, routes each connection to an ``ocpp.v16`` or
``ocpp.v201`` ChargePoint subclass that answers what a station sends and records it, so a test
can send commands (``csms.stations[id].call(...)``) and look at what came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.server import ServerConnection, serve


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Record:
    """What one station sent."""

    boots: int = 0
    statuses: list[tuple[int, str]] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Every sampled value (snake_case, as the library gives it), newest last."""
    events: list[dict[str, Any]] = field(default_factory=list)

    def latest(self, measurand: str, phase: str | None = None) -> float | None:
        for sample in reversed(self.samples):
            if sample.get("measurand") == measurand and sample.get("phase") == phase:
                return float(sample["value"])
        return None


class Csms16(Cp16):
    def __init__(self, cp_id: str, connection: Any, record: Record) -> None:
        super().__init__(cp_id, connection, response_timeout=10)
        self.record = record
        self._tx_ids = itertools.count(100)

    @on(Action16.boot_notification)
    def on_boot(self, **kw: Any) -> result16.BootNotification:
        self.record.boots += 1
        return result16.BootNotification(current_time=now_text(), interval=300, status="Accepted")

    @on(Action16.heartbeat)
    def on_heartbeat(self) -> result16.Heartbeat:
        return result16.Heartbeat(current_time=now_text())

    @on(Action16.status_notification)
    def on_status(self, connector_id: int, status: str, **kw: Any) -> result16.StatusNotification:
        self.record.statuses.append((connector_id, status))
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag: str) -> result16.Authorize:
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on(Action16.start_transaction)
    def on_start(self, **kw: Any) -> result16.StartTransaction:
        self.record.started.append(kw)
        return result16.StartTransaction(
            transaction_id=next(self._tx_ids), id_tag_info={"status": "Accepted"}
        )

    @on(Action16.meter_values)
    def on_meter_values(self, meter_value: list[dict[str, Any]], **kw: Any) -> Any:
        for value in meter_value:
            self.record.samples.extend(value["sampled_value"])
        return result16.MeterValues()

    @on(Action16.stop_transaction)
    def on_stop(self, **kw: Any) -> result16.StopTransaction:
        self.record.stopped.append(kw)
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})


class Csms201(Cp201):
    def __init__(self, cp_id: str, connection: Any, record: Record) -> None:
        super().__init__(cp_id, connection, response_timeout=10)
        self.record = record

    @on(Action201.boot_notification)
    def on_boot(self, **kw: Any) -> result201.BootNotification:
        self.record.boots += 1
        return result201.BootNotification(current_time=now_text(), interval=300, status="Accepted")

    @on(Action201.heartbeat)
    def on_heartbeat(self) -> result201.Heartbeat:
        return result201.Heartbeat(current_time=now_text())

    @on(Action201.status_notification)
    def on_status(
        self, evse_id: int, connector_status: str, **kw: Any
    ) -> result201.StatusNotification:
        self.record.statuses.append((evse_id, connector_status))
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict[str, Any], **kw: Any) -> result201.Authorize:
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type: str, **kw: Any) -> result201.TransactionEvent:
        self.record.events.append({"event_type": event_type, **kw})
        if event_type == "Started":
            self.record.started.append(kw)
        if event_type == "Ended":
            self.record.stopped.append(kw)
        for value in kw.get("meter_value") or []:
            for sample in value["sampled_value"]:
                phase = sample.get("phase")
                self.record.samples.append({**sample, "phase": phase})
        if "id_token" in kw:
            return result201.TransactionEvent(id_token_info={"status": "Accepted"})
        return result201.TransactionEvent()


class CsmsServer:
    """The server: ``port``, the connected stations by id and what each sent."""

    def __init__(self) -> None:
        self.port = 0
        self.stations: dict[str, Csms16 | Csms201] = {}
        self.records: dict[str, Record] = {}

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        cp_id = connection.request.path.rsplit("/", 1)[-1]
        record = self.records.setdefault(cp_id, Record())
        cls = Csms16 if connection.subprotocol == "ocpp1.6" else Csms201
        station = cls(cp_id, connection, record)
        self.stations[cp_id] = station
        with contextlib.suppress(websockets.ConnectionClosed):
            await station.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"


@contextlib.asynccontextmanager
async def csms_server() -> AsyncIterator[CsmsServer]:
    csms = CsmsServer()
    async with serve(
        csms._handle,
        "127.0.0.1",
        0,
        subprotocols=["ocpp1.6", "ocpp2.0.1"],  # type: ignore[list-item]
    ) as server:
        csms.port = next(iter(server.sockets)).getsockname()[1]
        yield csms


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until ``check()`` holds; fail with the condition's name after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition never held: {check}")
        await asyncio.sleep(0.02)
