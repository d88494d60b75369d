"""Refuse at the edge the schema-valid values ems could acknowledge but never store.

The official schemas let through values no column of ems can hold. Acknowledged, such a message
would be lost later, when the database write fails; refused here, the charge point gets a
PropertyConstraintViolation (same spelling in 1.6 and 2.x) whose cause names the field, e.g.
``meterValue[0].sampledValue[2].value: NaN is not a number ems can store``. The rules:

============================  ==============================================================
value (as the schema types)   must
============================  ==============================================================
``integer``                   fit a signed 32-bit integer (PostgreSQL INTEGER, ems's columns);
                              1.6 ``meterStart``/``meterStop`` (kept as doubles): |v| <= 2**53
``number``, and numbers in    be finite as a double (no NaN, Infinity, 1e400, 10**400); a
free-form data                2.x sampled value also once scaled by its unit's multiplier
1.6 sampled ``value``         if it reads as a number, be finite ("NaN", "inf" are refused;
(a string)                    non-numeric, signed values pass as before)
``string`` ``date-time``      be read by ``parse_time``, stay within years 1..9999 in UTC
                              and lie no more than :data:`MAX_FUTURE` after ``now`` (past
                              times pass: a charger with a reset clock says 1970)
any other string, any key     hold no C0 control character but tab, LF and CR, no DEL and no
of free-form data             lone surrogate (PostgreSQL text holds no NUL; UTF-8 no surrogate)
============================  ==============================================================

Free-form data is what the schema leaves open: ``customData``'s extra keys and 2.x
``DataTransfer.data``; it goes to JSON columns, so only its numbers and strings are checked.

Cost. The payload is already schema-valid, so the checker is compiled from the same schemas into
closures that visit only the fields that can hold a bad value: enumerations, booleans and fields
absent from the payload cost nothing. ``python benchmarks/bounds.py`` on the development machine
(CPython 3.11, 2 cores, otherwise idle): a 1.6 MeterValues with 7 sampled values takes 2.9 us and
a 2.0.1 TransactionEvent with 7 sampled values 5.5 us, against 12.8 us and 25 us for the
compiled schema validation of the same messages (``ems.ocpp.schemas``), which runs first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError

from ems.domain import OcppVersion
from ems.ocpp import schemas
from ems.ocpp.translate import format_time, parse_time

MAX_FUTURE = timedelta(days=366)
"""How far after ``now`` a charge point's timestamp may lie (a clock set a year ahead is wrong)."""

INT32 = (-(2**31), 2**31 - 1)
ENERGY = (-(2**53), 2**53)
"""Integer energy readings ems keeps as doubles: exact up to 2**53."""

_WIDE_INTEGERS = {
    (OcppVersion.V16, "StartTransaction", "meterStart"): ENERGY,
    (OcppVersion.V16, "StopTransaction", "meterStop"): ENERGY,
}

_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

Check = Callable[[Any, datetime], None]
"""Checks one value (given the latest time allowed); raises :class:`_Refused`."""


class _Refused(Exception):
    """A bad value; each container on the way out adds its key or index to ``path``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
        self.path: list[str | int] = []

    def cause(self) -> str:
        where = ""
        for part in reversed(self.path):
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else part
        return f"{where}: {self.what}" if where else self.what


def check(version: OcppVersion, action: str, payload: dict[str, Any], now: datetime) -> None:
    """Raise PropertyConstraintViolation for a value of the CALL ``payload`` (camelCase keys,
    already schema-valid) that ems cannot store; ``now`` (aware) bounds future timestamps."""
    plan = _plan(version, action)
    if plan is None:
        return
    try:
        plan(payload, now + MAX_FUTURE)
    except _Refused as refused:
        raise PropertyConstraintViolationError(details={"cause": refused.cause()}) from None


@cache
def _plan(version: OcppVersion, action: str) -> Check | None:
    """The checker of an action's request; everything free-form if there is no schema."""
    schema = schemas.load(version, action, response=False)
    if schema is None:
        return _anything
    return _Compiler(version, action, schema.get("definitions", {})).node(schema, ())


class _Compiler:
    """Turns a request schema into nested closures, one per field that needs a look."""

    def __init__(self, version: OcppVersion, action: str, definitions: dict[str, Any]) -> None:
        self.version = version
        self.action = action
        self.definitions = definitions

    def node(self, node: dict[str, Any], path: tuple[str, ...]) -> Check | None:
        ref = node.get("$ref")
        if ref is not None:
            node = self.definitions[ref.rsplit("/", 1)[-1]]
        if "enum" in node or "const" in node:
            return None  # the schema already allowed only listed values
        kind = node.get("type")
        if kind == "object":
            return self.object(node, path)
        if kind == "array":
            item = self.node(node.get("items", {}), path)
            if item is not None and path[-1:] == ("sampledValue",):
                item = self.sampled_value(item)
            return None if item is None else _array(item)
        if kind == "string":
            if node.get("format") == "date-time":
                return _date_time
            if self.version is OcppVersion.V16 and path[-2:] == ("sampledValue", "value"):
                return _numeric_text
            return _text
        if kind == "integer":
            low, high = _WIDE_INTEGERS.get((self.version, self.action, ".".join(path)), INT32)
            return _integer(low, high)
        if kind == "number":
            return _number
        if kind in ("boolean", "null"):
            return None
        return _anything

    def object(self, node: dict[str, Any], path: tuple[str, ...]) -> Check | None:
        properties: dict[str, Any] = node.get("properties", {})
        fields = tuple(
            (key, check)
            for key, child in properties.items()
            if (check := self.node(child, (*path, key))) is not None
        )
        if node.get("additionalProperties", True) is not False:
            return _open_object(fields, frozenset(properties))
        return _object(fields) if fields else None

    def sampled_value(self, item: Check) -> Check:
        """2.x only: the value times 10**multiplier is what ems stores (``translate.sample``)."""
        return item if self.version is OcppVersion.V16 else _scaled(item)


def _object(fields: tuple[tuple[str, Check], ...]) -> Check:
    def check(value: Any, latest: datetime) -> None:
        for key, field in fields:
            item = value.get(key)
            if item is not None:
                try:
                    field(item, latest)
                except _Refused as refused:
                    refused.path.append(key)
                    raise

    return check


def _open_object(fields: tuple[tuple[str, Check], ...], known: frozenset[str]) -> Check:
    """An object that also takes keys the schema does not name (``customData``)."""
    named = _object(fields)

    def check(value: Any, latest: datetime) -> None:
        named(value, latest)
        _free_form(value, latest, skip=known)

    return check


def _array(item: Check) -> Check:
    def check(value: Any, latest: datetime) -> None:
        for index, element in enumerate(value):
            try:
                item(element, latest)
            except _Refused as refused:
                refused.path.append(index)
                raise

    return check


def _scaled(sampled_value: Check) -> Check:
    def check(value: Any, latest: datetime) -> None:
        sampled_value(value, latest)
        multiplier = (value.get("unitOfMeasure") or {}).get("multiplier")
        if multiplier:
            try:
                finite = math.isfinite(float(value["value"]) * 10.0**multiplier)
            except OverflowError:
                finite = False
            if not finite:
                refused = _Refused(
                    f"{_shown(value['value'])} times 10**{_shown(multiplier)} "
                    "is not a number ems can store"
                )
                refused.path += ["multiplier", "unitOfMeasure"]
                raise refused

    return check


def _integer(low: int, high: int) -> Check:
    def check(value: Any, latest: datetime) -> None:
        if not low <= value <= high:
            raise _Refused(f"{_shown(value)} is out of range ({low}..{high})")

    return check


def _number(value: Any, latest: datetime) -> None:
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond the largest double
        finite = False
    if not finite:
        raise _Refused(f"{_shown(value)} is not a number ems can store")


def _text(value: str, latest: datetime) -> None:
    if not value.isprintable():  # the fast common case; tab, LF, CR and non-ASCII come here
        fault = _character_fault(value)
        if fault is not None:
            raise _Refused(f"{fault} is not allowed")


def _character_fault(text: str) -> str | None:
    bad = _BAD_CHARACTER.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    kind = "lone surrogate" if 0xD800 <= code <= 0xDFFF else "control character"
    return f"{kind} U+{code:04X} at position {bad.start()}"


def _numeric_text(value: str, latest: datetime) -> None:
    """A 1.6 sampled value: text that ``translate.sample`` reads as a float when it can."""
    _text(value, latest)
    try:
        number = float(value)
    except ValueError:
        return  # a signed or otherwise non-numeric value: skipped when translated, as before
    if not math.isfinite(number):
        raise _Refused(f"{_shown(number)} is not a number ems can store")


def _date_time(value: str, latest: datetime) -> None:
    try:
        moment = parse_time(value)
    except ValueError:
        raise _Refused(f"{value!r} is not a date-time ems can read") from None
    except OverflowError:
        raise _Refused(f"{value!r} falls outside years 1..9999 in UTC") from None
    if moment > latest:
        now = format_time(latest - MAX_FUTURE)
        raise _Refused(f"{value!r} lies more than {MAX_FUTURE.days} days after now ({now})")


def _anything(value: Any, latest: datetime) -> None:
    """Free-form JSON: strings, keys and numbers checked, whatever the nesting."""
    if isinstance(value, str):
        _text(value, latest)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        _number(value, latest)
    elif isinstance(value, dict):
        _free_form(value, latest, skip=frozenset())
    elif isinstance(value, list):
        _any_list(value, latest)


_any_list = _array(_anything)


def _free_form(value: dict[str, Any], latest: datetime, *, skip: frozenset[str]) -> None:
    for key, item in value.items():
        if key in skip:
            continue
        fault = None if key.isprintable() else _character_fault(key)
        if fault is not None:
            raise _Refused(f"a key holds {fault}, which is not allowed")
        try:
            _anything(item, latest)
        except _Refused as refused:
            refused.path.append(key)
            raise


def _shown(value: Any) -> str:
    """A number as the cause shows it: JSON's names for the non-finite, huge integers by size."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, int) and not -(10**30) < value < 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    return str(value)
