"""The operator dashboard, served by ems on its one port at ``/``.

* :mod:`ems.web.pages`: the pages (site overview, sessions, charger detail, statistics,
  management, sign-in), their static files and plotly.js;
* :mod:`ems.web.socket` and :mod:`ems.web.feed`: live updates over a WebSocket at ``/web/live``;
* :mod:`ems.web.api`: the few JSON routes the pages need besides ``/api/v1`` (``/web/api``).

Every figure comes through the API with the operator's API token; read-only tokens see no
commands (and the API refuses them anyway).
"""

from __future__ import annotations

from fastapi import FastAPI

from ems.web import api
from ems.web.feed import LiveFeed
from ems.web.pages import install_pages
from ems.web.socket import live_endpoint

LIVE_PATH = "/web/live"


def install_web(app: FastAPI) -> None:
    """Mount the dashboard on ``app`` (after :func:`ems.api.install_api`: it uses its tokens)."""
    app.state.live_feed = LiveFeed(app.state.ems)
    app.include_router(api.router)
    app.add_api_websocket_route(LIVE_PATH, live_endpoint)
    install_pages(app)


__all__ = ["LIVE_PATH", "install_web"]
