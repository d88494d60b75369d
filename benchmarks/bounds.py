"""Edge-check benchmark: what ``ems.ocpp.bounds.check`` costs a message, next to the schema check.

Times, in this process, the two checks every incoming CALL passes before its handler, on the two
messages that make up most of the traffic: a 1.6 MeterValues with 7 sampled values (as in
``benchmarks/ingest.py``) and a 2.0.1 TransactionEvent (Updated) carrying 7 sampled values. Each
figure is the best of ``--repeat`` runs of ``--number`` calls (the least disturbed run).

Usage: ``python benchmarks/bounds.py [--number 20000] [--repeat 7]``; the last line is a JSON
object with ``bounds_us_16``, ``bounds_us_201``, ``schema_us_16`` and ``schema_us_201``.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ems.domain import OcppVersion
from ems.ocpp import bounds, schemas

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
STAMP = "2026-11-03T09:00:00.000Z"
READINGS = [
    ("Energy.Active.Import.Register", "Wh", None, 12345.0),
    ("Power.Active.Import", "W", None, 7200.0),
    ("Current.Import", "A", "L1", 10.4),
    ("Current.Import", "A", "L2", 10.5),
    ("Current.Import", "A", "L3", 10.3),
    ("Voltage", "V", "L1-N", 231.0),
    ("SoC", "Percent", None, 54.0),
]


def meter_values_16() -> dict[str, Any]:
    values = []
    for measurand, unit, phase, value in READINGS:
        item = {"value": str(value), "measurand": measurand, "unit": unit}
        if phase is not None:
            item["phase"] = phase
        values.append(item)
    meter_value = [{"timestamp": STAMP, "sampledValue": values}]
    return {"connectorId": 1, "transactionId": 42, "meterValue": meter_value}


def transaction_event_201() -> dict[str, Any]:
    values: list[dict[str, Any]] = []
    for measurand, unit, phase, value in READINGS:
        item: dict[str, Any] = {"value": value, "measurand": measurand}
        item["unitOfMeasure"] = {"unit": unit}
        if phase is not None:
            item["phase"] = phase
        values.append(item)
    return {
        "eventType": "Updated",
        "timestamp": STAMP,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 7,
        "transactionInfo": {"transactionId": "tx-0001", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": STAMP, "sampledValue": values}],
    }


def per_call_us(statement: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    figures = {}
    cases = [
        ("16", OcppVersion.V16, "MeterValues", meter_values_16()),
        ("201", OcppVersion.V201, "TransactionEvent", transaction_event_201()),
    ]
    for name, version, action, payload in cases:
        schemas.validate(version, action, payload, response=False)  # compile, and prove it valid
        bounds.check(version, action, payload, NOW)
        figures[f"bounds_us_{name}"] = per_call_us(
            lambda v=version, a=action, p=payload: bounds.check(v, a, p, NOW),
            args.number,
            args.repeat,
        )
        figures[f"schema_us_{name}"] = per_call_us(
            lambda v=version, a=action, p=payload: schemas.validate(v, a, p, response=False),
            args.number,
            args.repeat,
        )
        print(
            f"{version.value} {action}: bounds.check {figures[f'bounds_us_{name}']:.1f} us, "
            f"schema validation {figures[f'schema_us_{name}']:.1f} us"
        )
    print(json.dumps({key: round(value, 1) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
