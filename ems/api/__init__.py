"""The REST API under ``/api/v1``: charge points, transactions, commands and API tokens.

Routes are thin: they check the token (:mod:`ems.api.auth`), read the store or the live central
system, or send a command, and map the result to the models of :mod:`ems.api.schemas`. Errors
are JSON ``{"detail": ...}`` throughout (:mod:`ems.api.errors`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from ems.api import charge_points, commands, id_tokens, sites, stats, tokens, transactions
from ems.api.auth import TokenCache, authorize
from ems.api.errors import install_error_handlers
from ems.api.schemas import ErrorOut, ValidationErrorOut
from ems.payments import api as payments

PREFIX = "/api/v1"

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, invalid or revoked API token"},
    403: {"model": ErrorOut, "description": "The token's role does not allow this"},
    422: {"model": ValidationErrorOut, "description": "Invalid request"},
}


def _operation_id(route: APIRoute) -> str:
    """The handler's name (``list_transactions``) as operationId, for generated clients."""
    return route.name


def install_api(app: FastAPI) -> None:
    """Mount the API on ``app`` (whose ``state.ems`` is the running :class:`ems.app.Ems`)."""
    app.state.api_token_cache = TokenCache()
    app.state.api_registration_lock = asyncio.Lock()
    for module in (
        charge_points, commands, transactions, tokens, sites, payments, id_tokens, stats
    ):
        app.include_router(
            module.router,
            prefix=PREFIX,
            dependencies=[Depends(authorize)],
            responses=_AUTH_ERRORS,
            generate_unique_id_function=_operation_id,
        )
    install_error_handlers(app)


__all__ = ["install_api"]
