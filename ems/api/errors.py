"""Every error of the API as JSON ``{"detail": "<message>"}``, with a status that says whose fault.

========================================  ======  ============================================
error                                     status  extra fields
========================================  ======  ============================================
HTTPException (404, 409 ...)              its own
invalid request (body, query, path)       422     ``errors``: [{loc, msg, type}]
``CommandNotSupported``/``InvalidCommand``  422
``ChargePointOffline``                    409
``CallErrorReceived``                     502     ``code``, ``description``, ``details``
``CommandTimeout``                        504
any other ``CommandError``                502
anything else (a bug)                     500
========================================  ======  ============================================

Validation errors never echo the input: it may hold a password.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ems.domain import (
    CallErrorReceived,
    ChargePointOffline,
    CommandError,
    CommandNotSupported,
    CommandTimeout,
    InvalidCommand,
)

_COMMAND_STATUS: tuple[tuple[type[CommandError], int], ...] = (
    (ChargePointOffline, 409),
    (CommandTimeout, 504),
    (CallErrorReceived, 502),
    (CommandNotSupported, 422),
    (InvalidCommand, 422),
)


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "profile", "periods", 0, "limit")`` -> ``body.profile.periods[0].limit``."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def describe(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """One readable sentence for the ``detail``, and the errors without their input values."""
    items = [
        {
            "loc": list(error.get("loc", ())),
            "msg": _message(error),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]
    parts = [f"{field_name(item['loc'])}: {item['msg']}" for item in items]
    return "invalid request: " + "; ".join(parts), items


def _message(error: Any) -> str:
    if tuple(error.get("loc", ())) == ("body",) and error.get("type") == "missing":
        return "a JSON body is required"
    return str(error.get("msg", "")).removeprefix("Value error, ")


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse({"detail": detail}, exc.status_code, headers=exc.headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail, errors = describe(exc.errors())
    return JSONResponse({"detail": detail, "errors": errors}, 422)


async def command_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CommandError)
    status = next((code for kind, code in _COMMAND_STATUS if isinstance(exc, kind)), 502)
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, CallErrorReceived):
        body |= {"code": exc.code, "description": exc.description, "details": exc.details}
    return JSONResponse(body, status)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    # The server error middleware logs the traceback after this answer is sent.
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); the server log has the details"}, 500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(CommandError, command_error)
    app.add_exception_handler(Exception, internal_error)
