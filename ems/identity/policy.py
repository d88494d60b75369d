"""The answer to an id token at a charge point: one pure function, the same for both versions.

Checks, in this order (the first that fails decides):

1. unknown token: Accepted when ``ocpp.accept_unknown_id_tokens`` is on, else Unknown (sent as
   Invalid to 1.6 chargers, which have no Unknown);
2. the token's stored status (Blocked, Expired, Invalid), then its expiry date (past: Expired);
3. its group, when the group id is itself a stored token: a blocked, expired or invalid group
   makes its members so too (blocking a fleet's group token blocks all its cards);
4. its payments account (its own, else its group's): a closed or missing account is Blocked;
5. where it may be used (its own ``valid_at``, else its group's): at a charge point not listed,
   or on an EVSE not listed, NotAtThisLocation (2.0.1; Invalid to 1.6 chargers, which do not
   have it); at a listed charge point whose listing names EVSEs, a
   2.0.1 answer carries those EVSEs (``idTokenInfo.evseId``);
6. when a transaction starts: ConcurrentTx when the token already runs as many transactions
   elsewhere as it may (``max_concurrent_tx``: its own, else its group's, else 1).

Expiry and group go back in every answer, so chargers cache and list them correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ems.domain import Authorization, AuthorizationStatus
from ems.identity.tokens import Location, TokenRecord, TokenStatus

_STORED_STATUS = {
    TokenStatus.ACCEPTED: AuthorizationStatus.ACCEPTED,
    TokenStatus.BLOCKED: AuthorizationStatus.BLOCKED,
    TokenStatus.EXPIRED: AuthorizationStatus.EXPIRED,
    TokenStatus.INVALID: AuthorizationStatus.INVALID,
}


@dataclass(frozen=True, slots=True)
class TokenAuthorization(Authorization):
    """An :class:`Authorization` that may name the only EVSEs the token is valid on.

    ``evse_ids`` goes out as 2.0.1 ``idTokenInfo.evseId``; 1.6 has no such field (a start on
    another connector is answered Invalid instead).
    """

    evse_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What the store knows of a presented token: itself, its group token, their account.

    ``account_open`` is None when the token has no account, else whether that account exists
    and is open.
    """

    record: TokenRecord
    group: TokenRecord | None = None
    account_open: bool | None = None


def expiry_of(facts: TokenFacts) -> datetime | None:
    """The earlier of the token's and its group's expiry."""
    dates = [d for d in (facts.record.expires_at, facts.group and facts.group.expires_at) if d]
    return min(dates) if dates else None


def locations_of(facts: TokenFacts) -> tuple[Location, ...]:
    """Where the token may be used: its own list, else its group's (empty: anywhere)."""
    if facts.record.valid_at:
        return facts.record.valid_at
    return facts.group.valid_at if facts.group is not None else ()


def concurrency_limit(facts: TokenFacts) -> int:
    """How many transactions the token may run at the same time."""
    own = facts.record.max_concurrent_tx
    if own is not None:
        return own
    if facts.group is not None and facts.group.max_concurrent_tx is not None:
        return facts.group.max_concurrent_tx
    return 1


def evses_allowed(
    locations: tuple[Location, ...], charge_point_id: str
) -> tuple[int, ...] | None:
    """None when the token is not valid at ``charge_point_id``; () for any of its EVSEs."""
    if not locations:
        return ()
    here = [loc for loc in locations if loc.charge_point_id == charge_point_id]
    if not here:
        return None
    if any(loc.evse_id is None for loc in here):
        return ()
    return tuple(sorted({loc.evse_id for loc in here if loc.evse_id is not None}))


def status_of(facts: TokenFacts, now: datetime) -> AuthorizationStatus:
    """The token's status anywhere (steps 2-4): stored status, expiry, group, account."""
    record, group = facts.record, facts.group
    status = _STORED_STATUS.get(TokenStatus(record.status), AuthorizationStatus.INVALID)
    if status is not AuthorizationStatus.ACCEPTED:
        return status
    if record.expires_at is not None and record.expires_at <= now:
        return AuthorizationStatus.EXPIRED
    if group is not None:
        group_status = _STORED_STATUS.get(TokenStatus(group.status), AuthorizationStatus.INVALID)
        if group_status is not AuthorizationStatus.ACCEPTED:
            return group_status
        if group.expires_at is not None and group.expires_at <= now:
            return AuthorizationStatus.EXPIRED
    if facts.account_open is False:
        return AuthorizationStatus.BLOCKED
    return AuthorizationStatus.ACCEPTED


def decide(
    facts: TokenFacts | None,
    *,
    charge_point_id: str,
    now: datetime,
    accept_unknown: bool,
    evse_id: int | None = None,
    running_elsewhere: int | None = None,
) -> Authorization:
    """The answer to a token presented at ``charge_point_id`` (on ``evse_id`` when known).

    ``running_elsewhere`` is given when a transaction starts: the number of the token's open
    transactions on other EVSEs; None skips the concurrency check (Authorize, stop).
    """
    if facts is None:
        accepted = AuthorizationStatus.ACCEPTED
        return Authorization(accepted if accept_unknown else AuthorizationStatus.UNKNOWN)
    expires_at = expiry_of(facts)
    group_id = facts.record.group_id

    def answer(status: AuthorizationStatus, evse_ids: tuple[int, ...] = ()) -> Authorization:
        return TokenAuthorization(status, expires_at, group_id, evse_ids)

    status = status_of(facts, now)
    if status is not AuthorizationStatus.ACCEPTED:
        return answer(status)
    evse_ids = evses_allowed(locations_of(facts), charge_point_id)
    if evse_ids is None or (evse_ids and evse_id and evse_id not in evse_ids):
        return answer(AuthorizationStatus.NOT_AT_THIS_LOCATION)
    if running_elsewhere is not None and running_elsewhere >= concurrency_limit(facts):
        return answer(AuthorizationStatus.CONCURRENT_TX, evse_ids)
    return answer(AuthorizationStatus.ACCEPTED, evse_ids)
