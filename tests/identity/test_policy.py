"""The answer to a token, case by case, without a charger or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ems.domain import AuthorizationStatus as S
from ems.identity import Location, TokenAuthorization, TokenFacts, TokenRecord, TokenStatus, decide
from ems.identity.service import takes_rights_away

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)


def answer(
    facts: TokenFacts,
    cp: str = "CP-1",
    evse_id: int | None = None,
    running_elsewhere: int | None = None,
) -> TokenAuthorization:
    result = decide(
        facts,
        charge_point_id=cp,
        now=NOW,
        accept_unknown=False,
        evse_id=evse_id,
        running_elsewhere=running_elsewhere,
    )
    assert isinstance(result, TokenAuthorization)
    return result


def test_unknown_token_is_unknown_or_accepted_by_setting() -> None:
    assert decide(None, charge_point_id="CP-1", now=NOW, accept_unknown=False).status is S.UNKNOWN
    assert decide(None, charge_point_id="CP-1", now=NOW, accept_unknown=True).status is S.ACCEPTED


def test_expiry_is_the_earlier_of_token_and_group_and_past_means_expired() -> None:
    group = TokenRecord("G", expires_at=NOW + timedelta(days=1))
    card = TokenRecord("C", group_id="G", expires_at=NOW + timedelta(days=9))
    accepted = answer(TokenFacts(card, group))
    assert (accepted.status, accepted.expires_at, accepted.group_id) == (
        S.ACCEPTED,
        NOW + timedelta(days=1),
        "G",
    )
    at_the_second = TokenRecord("C", expires_at=NOW)
    assert answer(TokenFacts(at_the_second)).status is S.EXPIRED


def test_group_status_and_account_close_the_members() -> None:
    card = TokenRecord("C", group_id="G")
    invalid_group = TokenRecord("G", status=TokenStatus.INVALID)
    assert answer(TokenFacts(card, invalid_group)).status is S.INVALID
    assert answer(TokenFacts(card, None, account_open=False)).status is S.BLOCKED
    assert answer(TokenFacts(card, None, account_open=True)).status is S.ACCEPTED
    blocked_self = TokenRecord("C", status=TokenStatus.BLOCKED, group_id="G")
    assert answer(TokenFacts(blocked_self, TokenRecord("G"))).status is S.BLOCKED


def test_locations_own_or_inherited_and_evses() -> None:
    group = TokenRecord("G", valid_at=(Location("CP-1", 2), Location("CP-2")))
    card = TokenFacts(TokenRecord("C", group_id="G"), group)
    assert answer(card, "CP-1").evse_ids == (2,)
    assert answer(card, "CP-1", evse_id=1).status is S.NOT_AT_THIS_LOCATION
    assert answer(card, "CP-2", evse_id=1).evse_ids == ()
    assert answer(card, "CP-3").status is S.NOT_AT_THIS_LOCATION
    own = TokenFacts(TokenRecord("C", group_id="G", valid_at=(Location("CP-3"),)), group)
    assert answer(own, "CP-3").status is S.ACCEPTED


def test_concurrency_limit_own_else_group_else_one() -> None:
    lone = TokenFacts(TokenRecord("C"))
    assert answer(lone, running_elsewhere=0).status is S.ACCEPTED
    assert answer(lone, running_elsewhere=1).status is S.CONCURRENT_TX
    shared = TokenFacts(TokenRecord("C", group_id="G"), TokenRecord("G", max_concurrent_tx=3))
    assert answer(shared, running_elsewhere=2).status is S.ACCEPTED
    assert answer(shared, running_elsewhere=3).status is S.CONCURRENT_TX
    strict = TokenFacts(TokenRecord("C", group_id="G", max_concurrent_tx=1), shared.group)
    assert answer(strict, running_elsewhere=1).status is S.CONCURRENT_TX


def test_only_changes_that_take_rights_away_clear_caches() -> None:
    before = TokenRecord("C", valid_at=(Location("CP-1"),))
    assert not takes_rights_away(before, TokenRecord("C"), NOW)  # unrestricted: more rights
    assert takes_rights_away(before, TokenRecord("C", valid_at=(Location("CP-2"),)), NOW)
    assert takes_rights_away(before, None, NOW)
    blocked = TokenRecord("C", status=TokenStatus.BLOCKED)
    assert takes_rights_away(before, blocked, NOW)
    assert not takes_rights_away(blocked, TokenRecord("C"), NOW)
    assert takes_rights_away(TokenRecord("C"), TokenRecord("C", expires_at=NOW), NOW)
