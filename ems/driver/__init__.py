"""The driver's side: QR codes on connectors, the mobile start page, payment and receipts.

* :mod:`ems.driver.codes`: connector codes (printed, stable) and link secrets;
* :mod:`ems.driver.service`: :class:`DriverService`, the flow (hold, one-time token, remote
  start, progress, stop, capture, receipt);
* :mod:`ems.driver.routes`: ``/c/{code}``, ``/s/{secret}`` and ``/api/v1/qr``;
* :mod:`ems.driver.ratelimit`, :mod:`ems.driver.security`: start limits and CSRF checks.

``docs/driver.md`` describes the whole flow.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ems.driver.ratelimit import StartLimits
from ems.driver.security import FormGuard
from ems.driver.service import DriverError, DriverService, DriverSettings, StartRequest
from ems.payments import PaymentProvider

STATIC_PATH = "/driver-static"


def install_driver(
    app: FastAPI,
    settings: DriverSettings | None = None,
    *,
    card_provider: PaymentProvider | None = None,
    limits: StartLimits | None = None,
) -> DriverService:
    """Mount the driver's pages and the QR API on ``app`` (after :func:`ems.api.install_api`).

    ``card_provider`` (or ``app.state.card_provider`` when set before) offers card payment.
    """
    from ems.driver import routes
    from ems.payments.provider import LedgerPaymentProvider

    ems = app.state.ems
    providers: dict[str, PaymentProvider] = {"account": LedgerPaymentProvider(ems.ledger)}
    card = card_provider or getattr(app.state, "card_provider", None)
    if card is not None:
        providers["card"] = card
    driver = DriverService(ems, settings, providers=providers)
    app.state.driver = driver
    app.state.driver_limits = limits or StartLimits()
    app.state.driver_guard = FormGuard()
    app.include_router(routes.pages)
    app.include_router(routes.admin)
    app.include_router(routes.sessions)
    app.mount(STATIC_PATH, StaticFiles(directory=routes.HERE / "static"), name="driver-static")
    return driver


__all__ = [
    "DriverError",
    "DriverService",
    "DriverSettings",
    "StartLimits",
    "StartRequest",
    "install_driver",
]
