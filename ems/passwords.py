"""Hashing of charge point passwords (HTTP Basic auth, security profiles 1 and 2).

Argon2id with RFC 9106's low-memory profile: strong against offline guessing, yet cheap enough
that a reconnect storm of a few thousand chargers after a restart is verified in seconds. Each
verified password is remembered (as a SHA-256 digest) by the central system, so a reconnect costs
one hash lookup.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_password(password: str) -> str:
    """A salted Argon2id hash in PHC string form, safe to store."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a mismatch or a broken hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
