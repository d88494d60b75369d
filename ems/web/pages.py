"""The dashboard's pages, its static files and the charting library.

Pages are Jinja2 templates that hold no data: each one is a layout plus a script that signs in
with the API token kept in the browser's ``sessionStorage`` and reads everything through the REST
API (and :mod:`ems.web.api`, :mod:`ems.web.socket`) with it. So a page can be served to anyone,
and the API's authentication and roles apply to every figure shown and every command sent.

The charts are plotly.js, served from the copy the ``plotly`` Python package ships (no CDN: sites
often have no internet), gzip-compressed once in memory and cached by browsers for a year under a
versioned URL.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ems.web.api import features

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_PATH = "/static/vendor/plotly.min.js"

# Pages load only this origin's scripts; plotly sets styles inline, and the live feed is a
# WebSocket back to this origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


@cache
def _asset_version() -> str:
    """Changes whenever a static file or plotly.js changes, so browsers never run stale code."""
    digest = hashlib.sha256(plotly.__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def _plotly_bytes() -> tuple[bytes, bytes]:
    """plotly.min.js as it is and gzip-compressed (read and compressed once per process)."""
    if not PLOTLY_JS.is_file():
        raise FileNotFoundError(f"plotly.js is missing from the plotly package: {PLOTLY_JS}")
    raw = PLOTLY_JS.read_bytes()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def _json_for_html(value: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>`` can close it early."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "version": _asset_version(),
            "plotly_src": f"{PLOTLY_PATH}?v={plotly.__version__}",
            "features_json": _json_for_html(features(request.app)),
            "page_data": _json_for_html(context),
        },
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get(PLOTLY_PATH)
async def plotly_js(request: Request) -> Response:
    raw, compressed = _plotly_bytes()
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(compressed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    return _page(request, "overview.html", "Site overview")


@router.get("/login", response_class=HTMLResponse)
async def login(request: Request) -> HTMLResponse:
    return _page(request, "login.html", "Sign in")


@router.get("/sessions", response_class=HTMLResponse)
async def sessions(request: Request) -> HTMLResponse:
    return _page(request, "sessions.html", "Sessions")


@router.get("/sessions/{transaction_pk}", response_class=HTMLResponse)
async def session(request: Request, transaction_pk: str) -> HTMLResponse:
    return _page(request, "session.html", "Session", transaction_pk=transaction_pk)


@router.get("/chargers/{charge_point_id}", response_class=HTMLResponse)
async def charger(request: Request, charge_point_id: str) -> HTMLResponse:
    return _page(request, "charger.html", charge_point_id, charge_point_id=charge_point_id)


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(request: Request) -> HTMLResponse:
    return _page(request, "statistics.html", "Statistics")


@router.get("/manage", response_class=HTMLResponse)
async def manage(request: Request) -> HTMLResponse:
    return _page(request, "manage.html", "Management")


class _Static(StaticFiles):
    """Static files that browsers may cache: their URLs carry the asset version."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_pages(app: FastAPI) -> None:
    """The pages at ``/``, ``/sessions``..., and the static files under ``/static``."""
    app.include_router(router)
    app.mount("/static", _Static(directory=STATIC_DIR), name="static")
