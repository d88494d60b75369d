"""The receipt as a value: built from a cost breakdown and a payment, kept as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ems.tariffs import CostBreakdown


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One tariff line: ``quantity`` ``unit`` at ``unit_price`` = ``amount`` (excl. tax)."""

    label: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Receipt:
    """Everything a receipt shows. Amounts are in ``currency``, rounded to its minor unit.

    ``paid`` is what was captured; ``outstanding = total - paid`` is non-zero only when the
    session cost more than the hold covered (the driver then owes the rest).
    """

    number: str
    issued_at: datetime
    operator: str
    site_name: str
    charge_point_id: str
    evse_id: int
    transaction_id: str
    started_at: datetime
    ended_at: datetime
    tariff_name: str
    currency: str
    energy_kwh: Decimal
    lines: tuple[ReceiptLine, ...]
    subtotal: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal
    paid: Decimal
    payment_method: str
    payment_id: str | None

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (decimals and times as strings) that :meth:`from_json` reads."""
        data = asdict(self)
        return _stringify(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Receipt:
        lines = tuple(
            ReceiptLine(
                label=line["label"],
                quantity=Decimal(line["quantity"]),
                unit=line["unit"],
                unit_price=Decimal(line["unit_price"]),
                amount=Decimal(line["amount"]),
            )
            for line in data["lines"]
        )
        decimals = ("energy_kwh", "subtotal", "tax_rate", "tax", "total", "paid")
        times = ("issued_at", "started_at", "ended_at")
        values: dict[str, Any] = dict(data)
        values.update({k: Decimal(data[k]) for k in decimals})
        values.update({k: datetime.fromisoformat(data[k]) for k in times})
        values["lines"] = lines
        return cls(**values)


def _stringify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def build_receipt(
    cost: CostBreakdown,
    *,
    number: str,
    issued_at: datetime,
    operator: str,
    site_name: str,
    charge_point_id: str,
    evse_id: int,
    transaction_id: str,
    tariff_name: str,
    paid: Decimal,
    payment_method: str,
    payment_id: str | None,
) -> Receipt:
    """The receipt of a finished session (``cost.final``) and what was captured for it."""
    if not cost.final:
        raise ValueError("a receipt needs the final cost of an ended session, not a running one")
    return Receipt(
        number=number,
        issued_at=issued_at,
        operator=operator,
        site_name=site_name,
        charge_point_id=charge_point_id,
        evse_id=evse_id,
        transaction_id=transaction_id,
        started_at=cost.plugged_in_at,
        ended_at=cost.ended_at,
        tariff_name=tariff_name,
        currency=cost.currency,
        energy_kwh=cost.energy_kwh.quantize(Decimal("0.001")),
        lines=tuple(
            ReceiptLine(
                line.label,
                line.quantity.quantize(Decimal("0.001")),
                line.unit,
                line.unit_price,
                line.amount_rounded,
            )
            for line in cost.lines
        ),
        subtotal=cost.subtotal,
        tax_rate=cost.tax_rate,
        tax=cost.tax,
        total=cost.total,
        paid=paid,
        payment_method=payment_method,
        payment_id=payment_id,
    )
