"""Connector codes, rate limits and receipts, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ems.driver.codes import CodeError, new_code, new_secret, parse_code, secret_hash
from ems.driver.ratelimit import RateLimiter, StartLimits
from ems.receipts import build_receipt, render_html, render_pdf
from ems.tariffs import FlatPrice, Tariff


def test_codes_are_canonical_checked_and_forgive_case_dashes_and_look_alikes() -> None:
    code = new_code()
    assert len(code) == 11 and code[4] == code[9] == "-"
    assert parse_code(code.lower().replace("-", " ")) == code
    body = code.replace("-", "")
    if "0" in body[:8]:
        assert parse_code(body.replace("0", "O", 1)) == code
    with pytest.raises(CodeError, match="9 characters"):
        parse_code(body[:-1])
    wrong = body[:7] + ("1" if body[7] != "1" else "2") + body[8]
    with pytest.raises(CodeError, match="check character"):
        parse_code(wrong)


def test_secrets_are_long_random_and_stored_only_as_hashes() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and len(a) >= 43
    assert secret_hash(a) != a and len(secret_hash(a)) == 64


def test_token_bucket_refills_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 0.5, clock=lambda: now[0])
    assert limiter.take("k") == 0 and limiter.take("k") == 0
    assert limiter.take("k") == 2
    now[0] = 1.0
    assert limiter.take("k") == 1
    now[0] = 2.0
    assert limiter.take("k") == 0
    assert limiter.take("other") == 0


def test_start_limits_need_both_connector_and_client_tokens() -> None:
    now = [0.0]
    limits = StartLimits(
        RateLimiter(1, 0.1, clock=lambda: now[0]), RateLimiter(2, 0.1, clock=lambda: now[0])
    )
    assert limits.take("code-a", "1.2.3.4") == 0
    assert limits.take("code-a", "5.6.7.8") == 10  # the connector's bucket is empty
    assert limits.take("code-b", "1.2.3.4") == 0
    assert limits.take("code-c", "1.2.3.4") == 10  # the client's bucket is empty


def _tariff() -> Tariff:
    return Tariff(
        "t", "Test tariff", "EUR", FlatPrice(Decimal("0.30")),
        tax_rate=Decimal("0.20"), session_fee=Decimal("1.00"),
    )  # fmt: skip


def test_receipt_shows_energy_lines_tax_and_payment_in_html_and_pdf() -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    end = start + timedelta(hours=2, minutes=30)
    cost = _tariff().session_cost([(start, 1000.0), (end, 11000.0)], start, end)
    # 10 kWh x 0.30 + 1.00 = 4.00; tax 0.80; total 4.80
    assert cost.total == Decimal("4.80")
    receipt = build_receipt(
        cost, number="R-1", issued_at=end, operator="Op <b>", site_name="Depot",
        charge_point_id="CP-1", evse_id=2, transaction_id="77", tariff_name="Test tariff",
        paid=Decimal("4.80"), payment_method="account", payment_id="pay_1",
    )  # fmt: skip
    html = render_html(receipt)
    assert "4.80 EUR" in html and "0.80 EUR" in html and "10.000 kWh" in html
    assert "2 h 30 min" in html and "20 %" in html and "session fee" in html
    assert "Op &lt;b&gt;" in html and "Op <b>" not in html
    pdf = render_pdf(receipt)
    assert pdf.startswith(b"%PDF") and b"Receipt R-1" in pdf  # the document title
    assert receipt.to_json() == type(receipt).from_json(receipt.to_json()).to_json()


def test_receipt_refuses_a_running_cost() -> None:
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    running = _tariff().session_cost([(start, 0.0)], start, None, start + timedelta(hours=1))
    with pytest.raises(ValueError, match="final cost"):
        build_receipt(
            running, number="R", issued_at=start, operator="o", site_name="s",
            charge_point_id="c", evse_id=1, transaction_id="1", tariff_name="t",
            paid=Decimal(0), payment_method="card", payment_id=None,
        )  # fmt: skip
