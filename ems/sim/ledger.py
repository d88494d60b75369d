"""What a load's charge points were told: every acknowledgement, as ``ems.sim.load`` records it.

The contract between the load (``ems.sim.load``) and the checker (``ems.sim.verify``): an item is
in the ledger once the CSMS answered its message with a CALLRESULT, with the data the message
carried; transaction ids are as on the wire (1.6: the one the CSMS answered the start with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AckedSample:
    charge_point_id: str
    transaction_id: str  # as on the wire
    timestamp: datetime
    measurand: str
    phase: str | None
    value: float


@dataclass(frozen=True)
class AckedStart:
    charge_point_id: str
    transaction_id: str  # 1.6: the one the CSMS answered; 2.0.1: the charger's
    timestamp: datetime
    meter_start_wh: float


@dataclass(frozen=True)
class AckedStop:
    charge_point_id: str
    transaction_id: str
    timestamp: datetime
    meter_stop_wh: float


@dataclass(frozen=True)
class CallErrorAnswer:
    charge_point_id: str
    action: str
    code: str
    description: str


@dataclass
class Ledger:
    """What the CSMS acknowledged, and how the run went."""

    versions: dict[str, str] = field(default_factory=dict)  # charge point id -> OCPP version
    samples: list[AckedSample] = field(default_factory=list)
    starts: list[AckedStart] = field(default_factory=list)
    stops: list[AckedStop] = field(default_factory=list)
    # (charge point id, transaction id) of every acknowledged 1.6 StartTransaction: each is a
    # different start, so an id appearing twice was issued twice
    issued_ids: list[tuple[str, str]] = field(default_factory=list)
    errors: list[CallErrorAnswer] = field(default_factory=list)
    calls: int = 0  # CALLs sent, resends included
    acked: int = 0  # CALLRESULTs received
    tx_acked: int = 0  # of those, for transaction messages
    connections: int = 0  # WebSocket connections opened
    drops: int = 0  # connections lost or refused
    latencies_s: list[float] = field(default_factory=list)  # per acknowledged CALL

    def summary(self) -> str:
        return (
            f"{len(self.versions)} charge points, {self.calls} CALLs, {self.acked} acknowledged "
            f"({self.tx_acked} transaction messages), {len(self.errors)} CALLERRORs, "
            f"{self.connections} connections, {self.drops} drops; acknowledged: "
            f"{len(self.starts)} starts, {len(self.stops)} stops, {len(self.samples)} samples"
        )
