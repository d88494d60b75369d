"""Small builders shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ems.domain import ConnectorStatus, IdToken, MeterSample, StatusReport, Transaction

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def transaction(
    id: str = "tx-1",
    charge_point_id: str = "cp-1",
    transaction_id: str = "1",
    started_s: float = 0,
    token: str | None = "TAG-1",
) -> Transaction:
    return Transaction(
        id=id,
        charge_point_id=charge_point_id,
        transaction_id=transaction_id,
        evse_id=1,
        connector_id=1,
        started_at=at(started_s),
        id_token=None if token is None else IdToken(token),
        meter_start_wh=1000.0,
    )


def energy(seconds: float, wh: float) -> MeterSample:
    return MeterSample(at(seconds), ENERGY, wh, "Wh", context="Sample.Periodic")


def status(seconds: float, value: ConnectorStatus, evse_id: int = 1) -> StatusReport:
    return StatusReport(evse_id=evse_id, connector_id=1, status=value, timestamp=at(seconds))
