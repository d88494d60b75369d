"""The driver's pages (``/c/{code}``, ``/s/{secret}``) and the operator's QR codes
(``/api/v1/qr``).

Pages are server-rendered HTML that works without JavaScript (plain forms); one small script
refreshes the progress and the estimate. Every POST passes :class:`FormGuard`; starts are
rate limited per connector and per client address (429 with ``Retry-After``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ems.api.auth import authorize
from ems.driver.qr import qr_png, qr_svg
from ems.driver.ratelimit import StartLimits
from ems.driver.repository import DriverSession
from ems.driver.security import FormGuard
from ems.driver.service import Connector, DriverError, DriverService, Progress, StartRequest
from ems.payments import Money
from ems.receipts import render_html, render_pdf

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    # the session link must not leak to other sites; same-origin POSTs keep their Origin
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

pages = APIRouter(include_in_schema=False)
admin = APIRouter(prefix="/api/v1/qr", tags=["qr codes"], dependencies=[Depends(authorize)])
sessions = APIRouter(
    prefix="/api/v1/driver-sessions", tags=["driver sessions"], dependencies=[Depends(authorize)]
)


def service(request: Request) -> DriverService:
    driver: DriverService = request.app.state.driver
    return driver


def limits(request: Request) -> StartLimits:
    found: StartLimits = request.app.state.driver_limits
    return found


def guard(request: Request) -> FormGuard:
    found: FormGuard = request.app.state.driver_guard
    return found


ServiceDep = Annotated[DriverService, Depends(service)]


def _html(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _error_page(request: Request, error: DriverError) -> HTMLResponse:
    return _html(request, "error.html", error.status, message=str(error))


def departure_from(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The next moment after ``now`` at local time ``HH:MM`` in ``tz`` (tomorrow if passed)."""
    try:
        wanted = time.fromisoformat(text.strip())
    except ValueError:
        raise DriverError("enter the time you leave as HH:MM", field="departure") from None
    local_now = now.astimezone(tz)
    candidate = datetime.combine(local_now.date(), wanted, tzinfo=tz)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), wanted, tzinfo=tz)
    return candidate.astimezone(now.tzinfo)


def _connector_context(driver: DriverService, connector: Connector) -> dict[str, Any]:
    tariff = connector.tariff
    now = driver.clock()
    tz = ZoneInfo(tariff.timezone)
    default_departure = (now + timedelta(hours=4)).astimezone(tz).strftime("%H:%M")
    estimate, hold = driver.estimate(connector, now + timedelta(hours=4), 20.0)
    return {
        "connector": connector,
        "tariff": tariff,
        "price_now": Decimal(str(tariff.price_per_kwh_at(now))),
        "local_now": now.astimezone(tz).strftime("%H:%M"),
        "default_departure": default_departure,
        "estimate": estimate,
        "hold": hold,
        "card": "card" in driver.providers,
    }


@pages.get("/c/{code}", response_class=HTMLResponse)
async def connector_page(request: Request, code: str, driver: ServiceDep) -> HTMLResponse:
    try:
        connector = await driver.connector(code)
    except DriverError as error:
        return _error_page(request, error)
    return _html(
        request,
        "connector.html",
        csrf=guard(request).token(f"start:{connector.code}"),
        **_connector_context(driver, connector),
    )


@pages.get("/c/{code}/estimate")
async def estimate(
    code: str, driver: ServiceDep, departure: str = "", energy_kwh: float = 0.0
) -> JSONResponse:
    """The estimate and the hold for the form's values (the page's script asks as they change)."""
    try:
        connector = await driver.connector(code)
        when = departure_from(departure, driver.clock(), ZoneInfo(connector.tariff.timezone))
        cost, hold = driver.estimate(connector, when, energy_kwh)
    except DriverError as error:
        return JSONResponse({"error": str(error), "field": error.field}, error.status)
    return JSONResponse(
        {"currency": cost.currency, "total": str(cost.total), "hold": str(hold.amount)},
        headers={"Cache-Control": "no-store"},
    )


MAX_FORM_BYTES = 4096


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a small url-encoded form (the first value of each; at most 4 KiB)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "the form is too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in parsed.items()}


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


@pages.post("/c/{code}/start", response_model=None)
async def start(
    request: Request, code: str, driver: ServiceDep
) -> Response:
    fields = await form_fields(request)
    departure, energy_kwh = fields.get("departure", ""), fields.get("energy_kwh", "")
    method, account = fields.get("method", ""), fields.get("account", "")
    card = fields.get("card", "")
    csrf = fields.get("csrf")
    try:
        connector = await driver.connector(code)
    except DriverError as error:
        return _error_page(request, error)
    problem = guard(request).check(request, f"start:{connector.code}", csrf)
    if problem is not None:
        return _error_page(request, DriverError(problem, status=403))
    wait_s = limits(request).take(connector.code, _client(request))
    if wait_s:
        response = _error_page(
            request,
            DriverError(f"too many start attempts: try again in {wait_s} s", status=429),
        )
        response.headers["Retry-After"] = str(wait_s)
        return response
    form = {"departure": departure, "energy_kwh": energy_kwh, "method": method}
    try:
        try:
            energy = float(energy_kwh)
        except ValueError:
            raise DriverError("enter the energy you need in kWh", field="energy_kwh") from None
        when = departure_from(departure, driver.clock(), ZoneInfo(connector.tariff.timezone))
        request_ = StartRequest(when, energy, method, account or None, card or None)
        secret, _ = await driver.start(connector.code, request_)
    except DriverError as error:
        context = _connector_context(driver, connector)
        return _html(
            request,
            "connector.html",
            error.status,
            csrf=guard(request).token(f"start:{connector.code}"),
            error=str(error),
            error_field=error.field,
            form=form,
            **context,
        )
    return RedirectResponse(f"/s/{secret}", status_code=303)


def progress_json(progress: Progress) -> dict[str, Any]:
    session, cost = progress.session, progress.cost
    return {
        "state": session.state,
        "error": session.error,
        "energy_kwh": round(progress.energy_kwh, 3),
        "power_w": round(progress.power_w) if progress.power_w is not None else None,
        "currency": session.currency,
        "cost": str(cost.total) if cost is not None else None,
        "hold": str(Money(session.hold_minor, session.currency).amount),
        "receipt": progress.receipt is not None,
    }


@pages.get("/s/{secret}", response_class=HTMLResponse)
async def session_page(request: Request, secret: str, driver: ServiceDep) -> HTMLResponse:
    try:
        progress = await driver.progress(secret)
    except DriverError as error:
        return _error_page(request, error)
    receipt_html = render_html(progress.receipt) if progress.receipt is not None else None
    return _html(
        request,
        "session.html",
        progress=progress,
        data=progress_json(progress),
        receipt_html=receipt_html,
        csrf=guard(request).token(f"stop:{progress.session.id}"),
    )


@pages.get("/s/{secret}/status")
async def session_status(secret: str, driver: ServiceDep) -> JSONResponse:
    try:
        progress = await driver.progress(secret)
    except DriverError as error:
        return JSONResponse({"error": str(error)}, error.status)
    return JSONResponse(progress_json(progress), headers=SECURITY_HEADERS)


@pages.post("/s/{secret}/stop", response_model=None)
async def stop(
    request: Request, secret: str, driver: ServiceDep
) -> Response:
    csrf = (await form_fields(request)).get("csrf")
    try:
        session = await driver.session(secret)
        problem = guard(request).check(request, f"stop:{session.id}", csrf)
        if problem is not None:
            raise DriverError(problem, status=403)
        await driver.stop(secret)
    except DriverError as error:
        return _error_page(request, error)
    return RedirectResponse(f"/s/{secret}", status_code=303)


@pages.get("/s/{secret}/receipt.pdf")
async def receipt_pdf(secret: str, driver: ServiceDep) -> Response:
    try:
        progress = await driver.progress(secret)
    except DriverError as error:
        raise HTTPException(error.status, str(error)) from None
    if progress.receipt is None:
        raise HTTPException(404, "the receipt is ready when the session has ended")
    pdf = await run_in_threadpool(render_pdf, progress.receipt)
    name = f"receipt-{progress.receipt.number}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', **SECURITY_HEADERS},
    )


# -- operators: QR codes ---------------------------------------------------------------------


def _link(request: Request, code: str) -> str:
    return str(request.base_url).rstrip("/") + f"/c/{code}"


@admin.get("", summary="Every controlled connector's code and link (codes are made on first use)")
async def list_codes(request: Request, driver: ServiceDep) -> list[dict[str, Any]]:
    control = driver.ems.control
    out: list[dict[str, Any]] = []
    if control is None:
        return out
    now = driver.clock()
    for site in control.sites.values():
        for charger in site.chargers:
            code = await run_in_threadpool(
                driver.repository.code_of, charger.charge_point_id, charger.evse_id, now
            )
            out.append(
                {
                    "site_id": site.id,
                    "charge_point_id": charger.charge_point_id,
                    "evse_id": charger.evse_id,
                    "code": code,
                    "url": _link(request, code),
                }
            )
    return out


@admin.get(
    "/{charge_point_id}/{evse_file}",
    summary="A connector's QR code: EVSE id with .svg or .png (e.g. /api/v1/qr/CP-1/1.svg)",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
async def qr_code(
    request: Request, charge_point_id: str, evse_file: str, driver: ServiceDep
) -> Response:
    evse, _, kind = evse_file.partition(".")
    if not evse.isdigit() or int(evse) < 1 or kind not in ("svg", "png"):
        raise HTTPException(404, "ask for <evse_id>.svg or <evse_id>.png, e.g. 1.svg")
    control = driver.ems.control
    in_site = control is not None and control.site_of(charge_point_id, int(evse)) is not None
    if not in_site and driver.ems.csms.charge_points.get(charge_point_id) is None:
        raise HTTPException(404, f"no charge point {charge_point_id!r}")
    code = await run_in_threadpool(
        driver.repository.code_of, charge_point_id, int(evse), driver.clock()
    )
    url = _link(request, code)
    if kind == "svg":
        return Response(qr_svg(url), media_type="image/svg+xml", headers={"X-Connector-Code": code})
    png = await run_in_threadpool(qr_png, url)
    return Response(png, media_type="image/png", headers={"X-Connector-Code": code})


@admin.get(
    "/sites/{site_id}/sheet",
    summary="A printable HTML sheet with the QR code and code of every connector of a site",
    response_class=HTMLResponse,
)
async def sheet(request: Request, site_id: str, driver: ServiceDep) -> HTMLResponse:
    control = driver.ems.control
    if control is None or site_id not in control.sites:
        raise HTTPException(404, f"no controlled site {site_id!r}")
    site = control.sites[site_id]
    labels = []
    for charger in site.chargers:
        code = await run_in_threadpool(
            driver.repository.code_of, charger.charge_point_id, charger.evse_id, driver.clock()
        )
        url = _link(request, code)
        labels.append(
            {
                "charger": charger,
                "code": code,
                "url": url,
                "svg": qr_svg(url, scale=5).decode(),
            }
        )
    return _html(request, "sheet.html", site=site, labels=labels)


# -- operators: sessions held for review -----------------------------------------------------


class SettleIn(BaseModel):
    """An operator's decision on a session in review; no amount: the computed cost."""

    amount: Decimal | None = Field(None, description="what to capture (at most the hold)")


def _session_json(session: DriverSession) -> dict[str, Any]:
    fields = ("id", "charge_point_id", "evse_id", "site_id", "state", "error", "transaction_pk",
              "payment_method", "currency", "created_at", "updated_at")  # fmt: skip
    out = {name: getattr(session, name) for name in fields}
    out["hold"] = str(Money(session.hold_minor, session.currency).amount)
    return out


@sessions.get("", summary="Driver (QR) sessions in a state, e.g. those held for review")
async def list_sessions(
    driver: ServiceDep, state: Annotated[str, Query(pattern="^[a-z]+$")] = "review"
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(driver.repository.sessions_in, state)
    return [_session_json(s) for s in sorted(found, key=lambda s: s.created_at)]


@sessions.post(
    "/{session_id}/settle",
    summary="Settle a session held for review (implausible meter data): capture and receipt",
    responses={404: {"description": "No such session"}, 409: {"description": "Not in review"}},
)
async def settle(session_id: str, body: SettleIn, driver: ServiceDep) -> dict[str, Any]:
    try:
        settled = await driver.settle(session_id, body.amount)
    except DriverError as error:
        raise HTTPException(error.status, str(error)) from None
    return _session_json(settled)
