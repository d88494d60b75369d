"""Conversions between domain objects, column dicts and stored rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from ems.domain import ConnectorStatus, IdToken, MeterSample, StatusReport, Transaction


def transaction_values(tx: Transaction) -> dict[str, Any]:
    """The columns of ``tx`` as they are at this moment (the object keeps changing afterwards)."""
    token = tx.id_token
    return {
        "id": tx.id,
        "charge_point_id": tx.charge_point_id,
        "transaction_id": str(tx.transaction_id),
        "evse_id": tx.evse_id,
        "connector_id": tx.connector_id,
        "id_token": None if token is None else str(token.id),
        "id_token_type": None if token is None else str(token.type),
        "started_at": tx.started_at,
        "stopped_at": tx.stopped_at,
        "meter_start_wh": tx.meter_start_wh,
        "meter_stop_wh": tx.meter_stop_wh,
        "first_energy_register_wh": tx.first_energy_register_wh,
        "last_energy_register_wh": tx.last_energy_register_wh,
        "energy_wh": tx.energy_wh,
        "stop_reason": None if tx.stop_reason is None else str(tx.stop_reason),
        "last_seq_no": tx.last_seq_no,
        "offline": tx.offline,
        "remote_start_id": tx.remote_start_id,
        "closed_reason": tx.closed_reason,
        "anomaly": tx.anomaly,
    }


def transaction_from_row(row: Row[Any]) -> Transaction:
    m = row._mapping
    token = m["id_token"]
    return Transaction(
        id=m["id"],
        charge_point_id=m["charge_point_id"],
        transaction_id=m["transaction_id"],
        evse_id=m["evse_id"],
        connector_id=m["connector_id"],
        started_at=m["started_at"],
        id_token=None if token is None else IdToken(token, m["id_token_type"] or "ISO14443"),
        meter_start_wh=m["meter_start_wh"],
        meter_stop_wh=m["meter_stop_wh"],
        stopped_at=m["stopped_at"],
        stop_reason=m["stop_reason"],
        last_seq_no=m["last_seq_no"],
        offline=bool(m["offline"]),
        remote_start_id=m["remote_start_id"],
        last_energy_register_wh=m["last_energy_register_wh"],
        first_energy_register_wh=m["first_energy_register_wh"],
        closed_reason=m["closed_reason"],
        anomaly=m["anomaly"],
    )


def status_values(charge_point_id: str, report: StatusReport) -> dict[str, Any]:
    """Columns shared by ``status_history`` and ``connectors`` (``timestamp`` / ``status_at``)."""
    return {
        "charge_point_id": charge_point_id,
        "evse_id": report.evse_id,
        "connector_id": report.connector_id,
        # str() because drivers may write an enum member's name instead of its value
        "status": str(report.status),
        "error_code": report.error_code,
        "info": report.info,
        "timestamp": report.timestamp,
    }


def status_from_row(row: Row[Any], timestamp_column: str = "timestamp") -> StatusReport:
    m = row._mapping
    return StatusReport(
        evse_id=m["evse_id"],
        connector_id=m["connector_id"],
        status=ConnectorStatus(m["status"]),
        timestamp=m[timestamp_column],
        error_code=m["error_code"],
        info=m["info"],
    )


def sample_from_row(row: Row[Any]) -> MeterSample:
    m = row._mapping
    return MeterSample(
        timestamp=m["timestamp"],
        measurand=m["measurand"],
        value=m["value"],
        unit=m["unit"],
        phase=m["phase"],
        context=m["context"],
        location=m["location"],
    )
