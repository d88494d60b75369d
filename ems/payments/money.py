"""Money as an integer number of minor units of one ISO 4217 currency; never a float.

The ledger stores and computes in minor units (cents for EUR, yen for JPY, fils for KWD), so
addition is exact and sums over millions of entries cannot drift. Decimal amounts are accepted and
shown at the edges (``Money.of("12.50", "EUR")``, ``money.amount``); an amount with more decimal
places than its currency has is refused rather than rounded, because rounding money silently is
how ledgers stop balancing. Rounding a computed price (a tariff's ``Decimal`` cost) is the caller's
decision: ``Money.of(cost.quantize(Decimal("0.01")), "EUR")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Self

from ems.payments.errors import CurrencyMismatch, InvalidAmount

#: Largest absolute amount in minor units: far beyond any charging bill, far below BIGINT.
MAX_MINOR = 10**15

# ISO 4217 active codes by number of decimal places of the minor unit; most have 2.
_CODES_BY_EXPONENT = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN "
        "ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES "
        "KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
        "MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR "
        "SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD "
        "TWD TZS UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWL"
    ),
}
_EXPONENTS = {
    code: exponent for exponent, codes in _CODES_BY_EXPONENT.items() for code in codes.split()
}
_CODE = re.compile(r"[A-Z]{3}")


def currency_exponent(currency: str) -> int:
    """Decimal places of the minor unit of ``currency`` (2 for EUR, 0 for JPY, 3 for KWD).

    Raises ``InvalidAmount`` for anything that is not an active ISO 4217 code.
    """
    exponent = _EXPONENTS.get(currency)
    if exponent is None:
        shape = "" if _CODE.fullmatch(currency) else " (three upper-case letters, e.g. EUR)"
        raise InvalidAmount(f"currency {currency!r} is not an ISO 4217 currency code{shape}")
    return exponent


def check_currency(currency: str) -> str:
    """``currency`` if it is an ISO 4217 code; ``InvalidAmount`` naming it otherwise."""
    currency_exponent(currency)
    return currency


@dataclass(frozen=True, order=False)
class Money:
    """An amount of one currency: ``minor`` units (cents), signed; ``currency`` ISO 4217.

    Arithmetic and comparison between different currencies raise ``CurrencyMismatch``.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmount(
                f"minor units must be an int, not {type(self.minor).__name__}: "
                "use Money.of(Decimal('12.50'), currency) for decimal amounts"
            )
        check_currency(self.currency)
        if abs(self.minor) > MAX_MINOR:
            raise InvalidAmount(f"{self.minor} minor units of {self.currency} is out of range")

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Self:
        """``Money.of("12.50", "EUR")``: exact; more decimals than the currency has is refused."""
        if isinstance(amount, float):
            raise InvalidAmount(
                f"amount {amount!r} is a float, which cannot hold money exactly: "
                "pass a Decimal or a decimal string such as '12.50'"
            )
        exponent = currency_exponent(currency)
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidAmount(f"amount {amount!r} is not a decimal number") from None
        if not value.is_finite():
            raise InvalidAmount(f"amount {amount!r} is not a finite number")
        minor = value.scaleb(exponent)
        if minor != minor.to_integral_value():
            raise InvalidAmount(
                f"amount {amount} {currency} has more than {exponent} decimal places; "
                "round it before it becomes money"
            )
        return cls(int(minor), currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    @property
    def amount(self) -> Decimal:
        """The amount as a Decimal with the currency's decimal places (``Decimal('12.50')``)."""
        return Decimal(self.minor).scaleb(-currency_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self} and {other} are in different currencies")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency}"
