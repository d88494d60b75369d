"""Id tokens as ems keeps them: type, stored status, expiry, group, account, where they are valid.

Pure values and their validation, no I/O. A token's *stored* status is what an operator set
(Accepted, Blocked, Expired, Invalid); the status a charger gets is decided from it by
:mod:`ems.identity.policy` (expiry date, group, account, location, concurrent transactions).

Id tokens are case-insensitive in both OCPP versions (1.6 ``CiString20Type``, 2.0.1 "IdToken is
case insensitive"); ems keeps the id as it was entered and never lets two ids differ by case only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

#: Longest id a 1.6 charger can take (idTag is CiString20Type); longer ones are 2.0.1 only.
MAX_ID_TAG_16 = 20
#: Longest id in 2.0.1 (IdTokenType.idToken maxLength 36).
MAX_ID_TOKEN = 36
MAX_LABEL = 200
_ID_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_LOCATION = re.compile(r"^(?P<cp>[^\s/:]{1,48})(?:/(?P<evse>[0-9]{1,4}))?$")


class TokenType(enum.StrEnum):
    """2.0.1 IdTokenEnumType; a 1.6 idTag is stored as ISO14443 unless told otherwise."""

    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    EMAID = "eMAID"
    CENTRAL = "Central"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class TokenStatus(enum.StrEnum):
    """The statuses an operator can give a token; ConcurrentTx is computed, never stored."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"


class TokenError(ValueError):
    """A token's field is not acceptable; ``field`` names it (``expires_at``, ``valid_at`` ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where a restricted token is valid: a charge point, or one EVSE of it (``evse_id``)."""

    charge_point_id: str
    evse_id: int | None = None

    def __str__(self) -> str:
        if self.evse_id is None:
            return self.charge_point_id
        return f"{self.charge_point_id}/{self.evse_id}"

    @classmethod
    def parse(cls, text: str) -> Location:
        """``"CP-1"`` (any EVSE of CP-1) or ``"CP-1/2"`` (EVSE 2 of CP-1)."""
        match = _LOCATION.match(text.strip())
        if match is None:
            raise TokenError(
                "valid_at",
                f"{text!r} is not a charge point id or 'charge_point_id/evse_id' (e.g. CP-1/2)",
            )
        evse = match["evse"]
        if evse is not None and int(evse) < 1:
            raise TokenError("valid_at", f"{text!r}: EVSE ids start at 1")
        return cls(match["cp"], int(evse) if evse is not None else None)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An id token known to ems.

    ``group_id`` is the group (1.6 parentIdTag, 2.0.1 groupIdToken) a fleet's cards share; when
    the group id is itself a stored token, its status, expiry, account, concurrency and location
    rules apply to the members that do not set their own. ``account_id`` is the payments
    account (wallet or fleet) the token charges to. ``max_concurrent_tx`` is how many
    transactions the token may run at once (None: as its group, else 1). ``valid_at`` restricts
    the token to some charge points or EVSEs (empty: valid everywhere).

    Writes check a record with :func:`check_record` first; records read back are trusted.
    """

    id_token: str
    type: TokenType = TokenType.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    expires_at: datetime | None = None
    group_id: str | None = None
    account_id: str | None = None
    max_concurrent_tx: int | None = None
    valid_at: tuple[Location, ...] = field(default=())
    label: str | None = None
    created_at: datetime | None = None


def check_id(id_token: str, type: TokenType | str, field_name: str = "id_token") -> None:
    """Raise :class:`TokenError` unless ``id_token`` can travel in OCPP as a ``type`` token."""
    if type == TokenType.NO_AUTHORIZATION:
        raise TokenError(
            "type",
            "NoAuthorization tokens are never looked up (the charger charges without "
            "identification), so they cannot be stored",
        )
    if not id_token:
        raise TokenError(field_name, "must not be empty")
    if len(id_token) > MAX_ID_TOKEN:
        raise TokenError(field_name, f"at most {MAX_ID_TOKEN} characters (OCPP 2.0.1 IdToken)")
    if not _ID_CHARACTERS.match(id_token):
        raise TokenError(field_name, "only printable ASCII characters without spaces")


def check_record(record: TokenRecord) -> None:
    """Every field of ``record``; the first problem raises :class:`TokenError`."""
    try:
        type_ = TokenType(record.type)
    except ValueError:
        raise TokenError(
            "type", f"{record.type!r} is not one of {', '.join(t.value for t in TokenType)}"
        ) from None
    check_id(record.id_token, type_)
    try:
        TokenStatus(record.status)
    except ValueError:
        raise TokenError(
            "status",
            f"{record.status!r} is not one of {', '.join(s.value for s in TokenStatus)} "
            "(ConcurrentTx is decided by ems, not stored)",
        ) from None
    if record.expires_at is not None and record.expires_at.tzinfo is None:
        raise TokenError("expires_at", "needs a time zone (e.g. 2027-01-31T23:59:59Z)")
    if record.group_id is not None:
        check_id(record.group_id, TokenType.CENTRAL, "group_id")
        if record.group_id.casefold() == record.id_token.casefold():
            raise TokenError("group_id", "a token cannot be its own group")
    if record.max_concurrent_tx is not None and record.max_concurrent_tx < 1:
        raise TokenError("max_concurrent_tx", "must be at least 1 (or empty: as its group)")
    if record.label is not None and len(record.label) > MAX_LABEL:
        raise TokenError("label", f"at most {MAX_LABEL} characters")
    if len(set(record.valid_at)) != len(record.valid_at):
        raise TokenError("valid_at", "lists a location twice")


def same_id(a: str, b: str) -> bool:
    """Whether two token ids are the same token (ids are case-insensitive)."""
    return a.casefold() == b.casefold()
