"""Bearer-token authentication and the two roles: ``admin`` (everything), ``readonly`` (GET only).

Tokens are checked with :meth:`ems.store.Store.verify_api_token`; a positive answer is cached in
memory for :data:`CACHE_TTL_S` so that a busy client costs no database read per request. Unknown
tokens are never cached, and revoking any token clears the cache, so a revocation through this
API takes effect at once (a revocation by another process within ``CACHE_TTL_S``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ems.app import Ems
from ems.store import ApiTokenRow

CACHE_TTL_S = 30.0
CACHE_MAX_ENTRIES = 10_000
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token: `Authorization: Bearer <token>`; role admin or readonly",
)


class TokenCache:
    """Recently verified tokens, keyed by their SHA-256 so no plaintext token is kept."""

    def __init__(
        self, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, ApiTokenRow]] = {}

    @staticmethod
    def key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> ApiTokenRow | None:
        key = self.key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, row = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return row

    def put(self, token: str, row: ApiTokenRow) -> None:
        if len(self._entries) >= CACHE_MAX_ENTRIES:
            self._entries.clear()
        self._entries[self.key(token)] = (self._clock() + self.ttl_s, row)

    def clear(self) -> None:
        self._entries.clear()


def get_ems(request: Request) -> Ems:
    ems: Ems = request.app.state.ems
    return ems


def token_cache(request: Request) -> TokenCache:
    cache: TokenCache = request.app.state.api_token_cache
    return cache


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ems: Annotated[Ems, Depends(get_ems)],
    cache: Annotated[TokenCache, Depends(token_cache)],
) -> ApiTokenRow:
    """The token's row; 401 when the header is missing or the token is unknown or revoked."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing API token: send the header 'Authorization: Bearer <token>'")
    token = credentials.credentials
    row = cache.get(token)
    if row is None:
        row = await run_in_threadpool(ems.store.verify_api_token, token)
        if row is None:
            raise _unauthorized("invalid or revoked API token")
        cache.put(token, row)
    return row


async def authorize(
    request: Request, principal: Annotated[ApiTokenRow, Depends(authenticate)]
) -> ApiTokenRow:
    """Any role may read; only admin may change something (403 for a readonly token)."""
    if request.method not in READ_METHODS and principal.role != "admin":
        raise HTTPException(
            403, f"API token {principal.name!r} is readonly; this request needs an admin token"
        )
    return principal


async def require_admin(
    principal: Annotated[ApiTokenRow, Depends(authenticate)],
) -> ApiTokenRow:
    """For resources only an admin may see at all (the API tokens)."""
    if principal.role != "admin":
        raise HTTPException(403, f"API token {principal.name!r} is readonly; this needs admin")
    return principal


EmsDep = Annotated[Ems, Depends(get_ems)]
