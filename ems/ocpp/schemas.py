"""Compiled JSON-schema validation of OCPP payloads, with the CALLERROR each violation calls for.

The ``ocpp`` package ships the official schemas; it validates them with ``jsonschema`` at about
290 us a message. Compiled by ``fastjsonschema`` the same schemas cost about 15 us, which is what
lets one process ingest thousands of MeterValues a second with validation on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    OccurenceConstraintViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)

from ems.domain import OcppVersion

Validator = Callable[[Any], Any]


def _strip_multiple_of(node: Any) -> Any:
    """Drop ``multipleOf``: 1.6 uses it for one-decimal limits, which binary floats cannot meet
    exactly (21.4 / 0.1 is not whole); ems rounds its own limits to one decimal instead."""
    if isinstance(node, dict):
        return {k: _strip_multiple_of(v) for k, v in node.items() if k != "multipleOf"}
    if isinstance(node, list):
        return [_strip_multiple_of(v) for v in node]
    return node


def _schema_name(version: OcppVersion, action: str, response: bool) -> str:
    if version is OcppVersion.V16:
        return f"{action}Response" if response else action
    return f"{action}Response" if response else f"{action}Request"


def load(version: OcppVersion, action: str, response: bool) -> dict[str, Any] | None:
    """A fresh copy of the official schema of an action's request or response; None if none."""
    folder = {OcppVersion.V16: "v16", OcppVersion.V201: "v201", OcppVersion.V21: "v21"}[version]
    name = _schema_name(version, action, response)
    path = resources.files("ocpp") / folder / "schemas" / f"{name}.json"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, OSError):
        return None
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(version: OcppVersion, action: str, response: bool) -> Validator | None:
    """The compiled validator for an action's request or response; None if there is no schema."""
    schema = load(version, action, response)
    if schema is None:
        return None
    schema.pop("id", None)
    schema.pop("$id", None)
    if version is OcppVersion.V16:
        schema = _strip_multiple_of(schema)
    # use_default=False: validation must not add schema defaults to the frames it checks
    return fastjsonschema.compile(schema, use_default=False)


def _error_for(version: OcppVersion, rule: str | None, message: str) -> OCPPError:
    details = {"cause": message}
    if rule == "type":
        return TypeConstraintViolationError(details=details)
    if rule in ("maxLength", "minLength"):
        # A string too long breaks its declared type (CiString20Type, ...).
        return TypeConstraintViolationError(details=details)
    if rule == "required":
        if version is OcppVersion.V16:
            return ProtocolError(details=details)
        return OccurrenceConstraintViolationError(details=details)
    if rule in ("minItems", "maxItems"):
        if version is OcppVersion.V16:
            return OccurenceConstraintViolationError(details=details)  # 1.6's own spelling
        return OccurrenceConstraintViolationError(details=details)
    if rule in ("enum", "minimum", "maximum", "pattern", "format", "const"):
        return PropertyConstraintViolationError(details=details)
    return format_violation(version, message)


def format_violation(version: OcppVersion, message: str) -> OCPPError:
    """1.6 calls it FormationViolation, 2.0.1 FormatViolation."""
    if version is OcppVersion.V16:
        return FormationViolationError(details={"cause": message})
    return FormatViolationError(details={"cause": message})


def validate(version: OcppVersion, action: str, payload: Any, *, response: bool) -> None:
    """Raise the OCPPError a schema violation calls for; do nothing if the payload is valid."""
    check = validator(version, action, response)
    if check is None:
        return
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _error_for(version, exc.rule, exc.message) from None
