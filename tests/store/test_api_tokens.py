"""API tokens: shown once, stored only as sha256, verifiable until revoked."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from ems.store import Store


def test_created_token_verifies_until_revoked(store: Store) -> None:
    token = store.create_api_token("ops", "admin")
    row = store.verify_api_token(token)
    assert row is not None
    assert (row.name, row.role, row.active) == ("ops", "admin", True)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()

    assert store.revoke_api_token(row.id) is True
    assert store.verify_api_token(token) is None
    assert store.revoke_api_token(row.id) is False
    assert store.revoke_api_token(12345) is False
    revoked = store.list_api_tokens()[0]
    assert revoked.revoked_at is not None and not revoked.active


def test_tokens_are_random_and_only_their_hash_is_stored(store: Store) -> None:
    first = store.create_api_token("a", "readonly")
    second = store.create_api_token("b", "readonly")
    assert first != second and len(first) >= 43  # 32 random bytes
    with store.engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(text("SELECT * FROM api_tokens"))]
    assert not any(first in str(value) or second in str(value) for row in stored for value in row)


def test_unknown_tokens_do_not_verify(store: Store) -> None:
    store.create_api_token("a", "admin")
    assert store.verify_api_token("") is None
    assert store.verify_api_token("not-a-token") is None


def test_tokens_are_listed_and_counted_revoked_ones_included(store: Store) -> None:
    assert store.count_api_tokens() == 0
    store.create_api_token("a", "admin")
    store.create_api_token("b", "readonly")
    store.revoke_api_token(store.list_api_tokens()[0].id)
    assert [(t.name, t.role, t.active) for t in store.list_api_tokens()] == [
        ("a", "admin", False),
        ("b", "readonly", True),
    ]
    assert store.count_api_tokens() == 2


def test_unknown_role_is_refused_with_the_valid_ones(store: Store) -> None:
    with pytest.raises(ValueError, match="admin, readonly"):
        store.create_api_token("x", "root")


def test_a_configured_token_is_stored_once_and_never_revived(store: Store) -> None:
    token = "configured-bootstrap-token-0123456789"
    assert store.create_api_token("bootstrap", "admin", token) == token
    row = store.verify_api_token(token)
    assert row is not None and row.role == "admin"
    store.revoke_api_token(row.id)
    with pytest.raises(ValueError, match="exists already"):
        store.create_api_token("bootstrap", "admin", token)
    assert store.verify_api_token(token) is None
