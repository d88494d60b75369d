"""Property test of the edge: malformed and extreme frames against ONE running ems.

Hypothesis writes frames from valid Heartbeat, StatusNotification, MeterValues and (2.0.1)
TransactionEvent CALLs by putting random or extreme JSON (huge integers, NaN and Infinity as raw
literals, control characters, lone surrogates, unreadable or far-off timestamps, wrong types) at
random places, dropping keys, breaking the RPC frame itself, truncating the text or inserting raw
control characters into it. Both versions talk to the same server over one connection each.

For every frame: exactly one answer, a CALLRESULT or a CALLERROR with a code of the version's
list (never InternalError, which would mean a handler failed or a write was refused), under the
frame's message id, or "-1" when none can be read. At the end the connections are still open, a
valid message is still answered, and every sample of every acknowledged MeterValues is in the
database. Deep nesting is left out: a separate guard refuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ems.app import EmsServer
from ems.ocpp.translate import format_time, parse_time
from ems.store import models
from tests.conftest import make_settings, running
from tests.e2e.wire import CODES, RawChargePoint, raw_charge_point

EXAMPLES = 150
V16, V201 = "ocpp1.6", "ocpp2.0.1"
STAMP = format_time(datetime.now(UTC) - timedelta(hours=1))
FRAME_TIMEOUT_S = 120.0
"""A failure guard only (a frame left unanswered), never a speed requirement."""


@dataclass(frozen=True)
class Raw:
    """A literal written into the frame text as is: what ``json.dumps`` cannot produce."""

    text: str


def _sampled_16(value: str, measurand: str, unit: str) -> dict[str, Any]:
    return {"value": value, "measurand": measurand, "unit": unit}


def _sampled_201(value: float, measurand: str, unit: str, multiplier: int) -> dict[str, Any]:
    unit_of_measure = {"unit": unit, "multiplier": multiplier}
    return {"value": value, "measurand": measurand, "unitOfMeasure": unit_of_measure}


BASES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    V16: [
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": STAMP},
        ),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {
                        "timestamp": STAMP,
                        "sampledValue": [
                            _sampled_16("1234.5", "Energy.Active.Import.Register", "Wh"),
                            _sampled_16("7200", "Power.Active.Import", "W"),
                            _sampled_16("10.4", "Current.Import", "A"),
                        ],
                    }
                ],
            },
        ),
    ],
    V201: [
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        ),
        (
            "MeterValues",
            {
                "evseId": 1,
                "meterValue": [
                    {
                        "timestamp": STAMP,
                        "sampledValue": [
                            _sampled_201(1234.5, "Energy.Active.Import.Register", "Wh", 0),
                            _sampled_201(7.2, "Power.Active.Import", "kW", 3),
                        ],
                    }
                ],
            },
        ),
        (
            "TransactionEvent",
            {
                "eventType": "Updated",
                "timestamp": STAMP,
                "triggerReason": "MeterValuePeriodic",
                "seqNo": 1,
                "transactionInfo": {"transactionId": "prop-tx", "chargingState": "Charging"},
                "evse": {"id": 1, "connectorId": 1},
                "idToken": {"idToken": "TAG", "type": "ISO14443"},
                "meterValue": [
                    {
                        "timestamp": STAMP,
                        "sampledValue": [
                            _sampled_201(1300.0, "Energy.Active.Import.Register", "Wh", 0)
                        ],
                    }
                ],
            },
        ),
    ],
}

INTEGERS = [0, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53, 2**53 + 1, 2**63, 2**64]
NUMBERS: list[Any] = [
    *(10**400, -(10**400), 1e300, -1e300, 5e-324, -0.0, float("nan"), float("inf"), -float("inf")),
    *(Raw("1e400"), Raw("-1e400"), Raw("1E-400"), Raw("9" * 5000), Raw("NaN"), Raw("-Infinity")),
]
STRINGS = [
    *("", "NaN", "nan", "inf", "-Infinity", "1e400", "1e308", "1_000", " 12 ", "0x10"),
    *("\x00", "a\x00b", "\x01", "\x1f", "\x7f", "\ud800", "x\udfffy", "\t\n\r", "Zürich ✓"),
    *("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"),
    *("1970-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "2026-01-01t00:00:00z"),
    *("2026-06-30T23:59:60Z", "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"),
]
characters = st.characters() | st.sampled_from(["\x00", "\x08", "\x7f", "\ud800", "\udc00", "\t"])
strings = st.sampled_from(STRINGS) | st.text(characters, max_size=8)
integers = st.sampled_from(INTEGERS) | st.integers()
numbers = st.sampled_from(NUMBERS) | st.floats() | integers
scalars = strings | numbers | st.booleans() | st.none()
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(characters, max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _like(value: Any) -> st.SearchStrategy[Any]:
    """Extreme values of the JSON type of ``value``: what a schema lets through."""
    if isinstance(value, str):
        return strings
    if isinstance(value, bool) or value is None:
        return json_values
    if isinstance(value, int):
        return integers
    if isinstance(value, float):
        return numbers
    return json_values


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value replaced (mostly by one of its type, which the schema
    lets through), one key or element removed, or one added."""
    path = draw(st.sampled_from(_paths(document)))
    operation = draw(st.sampled_from(["same type"] * 3 + ["replace", "remove", "add"]))
    if not path:
        return draw(json_values) if operation == "replace" else document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    node = parent[path[-1]]
    if operation == "same type":
        parent[path[-1]] = draw(_like(node))
    elif operation == "replace":
        parent[path[-1]] = draw(json_values)
    elif operation == "remove":
        del parent[path[-1]]
    elif isinstance(node, dict):
        node[draw(st.text(characters, max_size=10))] = draw(json_values)
    elif isinstance(node, list):
        node.append(draw(json_values))
    return document


def _encode(message: Any) -> str:
    text = json.dumps(message, allow_nan=True, default=lambda raw: f"@@RAW:{raw.text}@@")
    return re.sub(r'"@@RAW:([^@"]*)@@"', r"\1", text)


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, str]:
    """(subprotocol, frame text with the message id ``"@ID@"`` to be made unique)."""
    version = draw(st.sampled_from([V16, V201]))
    action, payload = draw(st.sampled_from(BASES[version]))
    message: Any = [2, "@ID@", action, copy.deepcopy(payload)]
    for _ in range(draw(st.integers(0, 2))):
        message[3] = draw(mutated(message[3]))
    if draw(st.integers(0, 9)) == 0:  # now and then, break the RPC frame itself
        message = draw(mutated(message))
    text = _encode(message)
    damage = draw(st.sampled_from(["none"] * 8 + ["truncate", "insert"]))
    if damage != "none":
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        insert = draw(st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\t", "é"]))
        text = text[:at] if damage == "truncate" else text[:at] + insert + text[at:]
    return version, text


UNREADABLE = object()


def decoded(text: str) -> Any:
    """The frame as ems's ``json.loads`` reads it (NaN and Infinity included), or UNREADABLE."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return UNREADABLE


def expected_id(message: Any) -> str | None:
    """The message id of ems's answer to a decoded frame, "-1" when none can be read; None for
    no answer at all (a CALLRESULT or CALLERROR ems did not ask for is dropped, as specified)."""
    has_id = isinstance(message, list) and len(message) > 1 and isinstance(message[1], str)
    if has_id and len(message) >= 3 and message[0] in (3, 4):
        return None
    return message[1] if has_id else "-1"


def samples_of(payload: dict[str, Any]) -> set[tuple[datetime, float]]:
    """The (timestamp, value) of each sample ems stores from an acknowledged MeterValues."""
    out: set[tuple[datetime, float]] = set()
    for meter_value in payload["meterValue"]:
        timestamp = parse_time(meter_value["timestamp"])
        for sampled in meter_value["sampledValue"]:
            try:
                value = float(sampled["value"])
            except ValueError:
                continue  # a 1.6 signed (non-numeric) value is not a sample
            multiplier = (sampled.get("unitOfMeasure") or {}).get("multiplier", 0)
            out.add((timestamp, value * 10.0**multiplier if multiplier else value))
    return out


class Rig:
    """One running ems with a 1.6 and a 2.0.1 charge point connected to it."""

    def __init__(self, server: EmsServer, points: dict[str, RawChargePoint]) -> None:
        self.server = server
        self.points = points
        self.sent = 0
        self.acknowledged: dict[str, set[tuple[datetime, float]]] = {V16: set(), V201: set()}

    async def exchange(self, version: str, template: str) -> None:
        self.sent += 1
        text = template.replace('"@ID@"', f'"m{self.sent}"', 1)
        message = decoded(text)
        unique_id = expected_id(message)
        if unique_id is None:
            return
        answer = await self.points[version].send(text)
        assert answer[1] == unique_id, (text, answer)
        if answer[0] == 4:
            assert answer[2] in CODES[version] and answer[2] != "InternalError", (text, answer)
            assert isinstance(answer[3], str) and isinstance(answer[4], dict), (text, answer)
            return
        assert answer[0] == 3 and isinstance(answer[2], dict), (text, answer)
        assert isinstance(message, list) and message[0] == 2, (text, answer)
        if message[2] == "MeterValues":
            self.acknowledged[version] |= samples_of(message[3])

    async def still_served_and_stored(self) -> None:
        """A fresh valid MeterValues on each connection is acknowledged, and every sample
        acknowledged during the run is in the database."""
        for version in (V16, V201):
            payload = copy.deepcopy(BASES[version][2][1])
            payload["meterValue"][0]["timestamp"] = format_time(datetime.now(UTC))
            answer = await self.points[version].call("last", "MeterValues", payload)
            assert answer == [3, "last", {}], answer
            self.acknowledged[version] |= samples_of(payload)
        await self.server.ems.recorder.barrier()
        for version, cp_id in [(V16, "P16"), (V201, "P201")]:
            missing = self.acknowledged[version] - stored_samples(self.server, cp_id)
            assert not missing, (version, sorted(missing))


def stored_samples(server: EmsServer, charge_point_id: str) -> set[tuple[datetime, float]]:
    table = models.meter_samples
    query = select(table.c.timestamp, table.c.value).where(
        table.c.charge_point_id == charge_point_id
    )
    with server.ems.store.engine.connect() as connection:
        return {(row.timestamp, float(row.value)) for row in connection.execute(query)}


@contextlib.asynccontextmanager
async def rig(database_url: str) -> AsyncIterator[Rig]:
    charge_points = [{"id": cp, "security_profile": 0} for cp in ("P16", "P201")]
    settings_ = make_settings(
        database_url, charge_points=charge_points, ocpp={"accept_unknown_id_tokens": True}
    )
    async with (
        running(settings_) as server,
        raw_charge_point(server, "P16", V16) as cp16,
        raw_charge_point(server, "P201", V201) as cp201,
    ):
        yield Rig(server, {V16: cp16, V201: cp201})
        for cp in (cp16, cp201):
            assert cp.ws.close_code is None  # the connection never dropped


async def test_every_frame_gets_one_spec_answer_and_acknowledged_samples_are_stored(
    database_url: str,
) -> None:
    loop = asyncio.get_running_loop()
    async with rig(database_url) as the_rig:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frames())
        def exchange(frame: tuple[str, str]) -> None:
            future = asyncio.run_coroutine_threadsafe(the_rig.exchange(*frame), loop)
            future.result(FRAME_TIMEOUT_S)

        # Hypothesis drives from a worker thread; the server and sockets stay on this loop.
        await asyncio.to_thread(exchange)
        await the_rig.still_served_and_stored()
