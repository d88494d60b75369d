"""Money: exact minor units per ISO 4217 currency, no floats, no silent rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ems.payments import CurrencyMismatch, InvalidAmount, Money
from ems.payments.money import currency_exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("12.50", "EUR", 1250, "12.50 EUR"),
        (Decimal("-0.01"), "EUR", -1, "-0.01 EUR"),
        (7, "CHF", 700, "7.00 CHF"),
        ("1500", "JPY", 1500, "1500 JPY"),
        ("1.234", "KWD", 1234, "1.234 KWD"),
        ("12.5000", "EUR", 1250, "12.50 EUR"),
    ],
)
def test_decimal_amounts_become_exact_minor_units(
    amount: str | Decimal | int, currency: str, minor: int, shown: str
) -> None:
    money = Money.of(amount, currency)
    assert (money.minor, money.currency, str(money)) == (minor, currency, shown)
    assert Money.of(money.amount, currency) == money


def test_more_decimals_than_the_currency_has_are_refused_not_rounded() -> None:
    with pytest.raises(InvalidAmount, match=r"12\.345 EUR has more than 2 decimal places"):
        Money.of("12.345", "EUR")
    with pytest.raises(InvalidAmount, match="more than 0 decimal places"):
        Money.of("1.5", "JPY")


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(InvalidAmount, match="is a float"):
        Money.of(0.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="must be an int"):
        Money(12.5, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", ""])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidAmount):
        Money.of(bad, "EUR")


def test_unknown_currencies_are_refused_with_the_expected_shape() -> None:
    assert (currency_exponent("EUR"), currency_exponent("JPY"), currency_exponent("BHD")) == (
        2,
        0,
        3,
    )
    with pytest.raises(InvalidAmount, match=r"'eur' is not an ISO 4217 .*three upper-case"):
        Money.of("1", "eur")
    with pytest.raises(InvalidAmount, match="'XXY' is not an ISO 4217"):
        Money(1, "XXY")


def test_arithmetic_and_comparison_need_the_same_currency() -> None:
    assert Money.of("1.10", "EUR") + Money.of("2.05", "EUR") == Money.of("3.15", "EUR")
    assert Money.of("1", "EUR") - Money.of("2", "EUR") == Money.of("-1", "EUR")
    assert -Money.of("1", "EUR") < Money.zero("EUR")
    with pytest.raises(CurrencyMismatch, match=r"1\.00 EUR and 1\.00 USD"):
        Money.of("1", "EUR") + Money.of("1", "USD")
    with pytest.raises(CurrencyMismatch):
        assert Money.of("1", "EUR") < Money.of("1", "USD")


def test_amounts_beyond_the_database_range_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="out of range"):
        Money(10**16, "EUR")
