"""CSRF protection of the driver's forms: same-origin checks plus per-purpose form tokens.

A POST must come from a page of this ems: its ``Origin`` (or, when a browser sends none, its
``Referer``) must name this host, and the form must carry a token that only a page served by this
process has (an HMAC of the form's purpose under a per-process key). Cross-site forms have
neither. Drivers are anonymous, so there is no login session to tie a token to; the purpose
(``start:<code>``, ``stop:<session id>``) ties it to the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request


class FormGuard:
    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def token(self, purpose: str) -> str:
        return hmac.new(self.key, purpose.encode(), hashlib.sha256).hexdigest()

    def check(self, request: Request, purpose: str, token: str | None) -> str | None:
        """None if the POST is acceptable, else why not (for a 403)."""
        host = request.headers.get("host", "")
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin or origin == "null":
            return "the form was not sent from this site (no Origin or Referer)"
        if urlsplit(origin).netloc != host:
            return "the form was sent from another site"
        if token is None or not hmac.compare_digest(token, self.token(purpose)):
            return "the form has expired: reload the page and try again"
        return None
