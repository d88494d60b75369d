"""Connector codes and driver secrets: what the printed QR code and the driver's link carry.

A connector code is 8 characters of Crockford's base32 (no I, L, O, U: nothing to misread on a
sticker) plus a check character (Crockford's mod-37 check symbol), shown as ``ABCD-EFGH-J``.
Codes are random, so they say nothing about the site's layout; they are stored once per
(charge point, EVSE) and never change, so a printed sticker stays valid. Reading a code forgives
case, dashes and the look-alikes (``O`` for 0, ``I``/``L`` for 1) and refuses a typo through the
check character.

A driver secret is 32 random bytes (``secrets.token_urlsafe``): the capability to see and stop
one session. Only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
CODE_LENGTH = 8
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
SECRET_BYTES = 32


class CodeError(ValueError):
    """A connector code that cannot be read (wrong length, characters or check character)."""


def check_symbol(body: str) -> str:
    """Crockford's check symbol of ``body`` (its value mod 37)."""
    value = 0
    for char in body:
        value = value * 32 + ALPHABET.index(char)
    return CHECK_ALPHABET[value % 37]


def new_code() -> str:
    """A random connector code in its canonical form (``ABCD-EFGH-J``)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(body + check_symbol(body))


def format_code(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def parse_code(text: str) -> str:
    """The canonical form of a code as typed or scanned; :class:`CodeError` says what is wrong."""
    raw = text.strip().upper().replace("-", "").replace(" ", "")
    if len(raw) != CODE_LENGTH + 1:
        raise CodeError(f"a connector code has {CODE_LENGTH + 1} characters, not {len(raw)}")
    body = raw[:CODE_LENGTH].translate(_LOOK_ALIKES)
    bad = sorted({c for c in body if c not in ALPHABET})
    if bad:
        raise CodeError(f"a connector code has no {', '.join(repr(c) for c in bad)}")
    check = raw[CODE_LENGTH]
    if check != check_symbol(body):
        raise CodeError("the connector code's check character does not match: a typo?")
    return format_code(body + check)


def new_secret() -> str:
    """A driver's link secret (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    """What is stored and looked up instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token_id() -> str:
    """A one-time Central id token: ``QR`` + 16 base32 characters (fits 1.6's 20)."""
    return "QR" + "".join(secrets.choice(ALPHABET) for _ in range(16))
