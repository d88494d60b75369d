"""Wallets and fleet accounts in bulk: CSV export with balances, and a checked CSV import.

Import columns: ``id, kind, currency, name, credit_limit, opening_balance`` (the last three may
be empty). Every row is checked before anything is written (kind, currency, amounts with the
currency's decimals, ids unique in the file and not taken); nothing is opened unless all rows
are good. An opening balance is a top-up with the idempotency key ``import:{id}:opening``, so
importing the same file twice after a failure part-way does not credit anyone twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from ems.payments.errors import PaymentError, UnknownAccount
from ems.payments.ledger import Ledger
from ems.payments.money import Money
from ems.payments.types import Account

EXPORT_COLUMNS = (
    "id", "kind", "currency", "name", "credit_limit", "balance", "held", "available", "status",
    "created_at",
)  # fmt: skip
IMPORT_COLUMNS = ("id", "kind", "currency", "name", "credit_limit", "opening_balance")
IMPORTABLE_KINDS = ("wallet", "fleet")


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem with one CSV row (``line`` counts the header as line 1)."""

    line: int
    field: str
    message: str


class AccountsCsvError(ValueError):
    """The file cannot be imported; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the accounts CSV")
        self.errors = list(errors)


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    kind: str
    currency: str
    name: str
    credit_limit: Money | None
    opening: Money | None


def write_accounts_csv(accounts: Sequence[Account]) -> str:
    """The accounts as CSV, balances in the accounts' currencies."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for a in accounts:
        writer.writerow((
            a.id, a.kind.value, a.currency, a.name, a.credit_limit.amount, a.balance.amount,
            a.held.amount, a.available.amount, a.status.value, a.created_at.isoformat(),
        ))  # fmt: skip
    return out.getvalue()


def _amount(
    text: str, currency: str, line: int, field: str, errors: list[RowError]
) -> Money | None:
    if not text.strip():
        return None
    try:
        money = Money.of(text.strip(), currency)
    except (PaymentError, ValueError, ArithmeticError) as error:
        errors.append(RowError(line, field, str(error)))
        return None
    if money.minor < 0:
        errors.append(RowError(line, field, "must not be negative"))
        return None
    return money


def parse_accounts_csv(text: str) -> list[_Row]:
    """The rows of an import file; AccountsCsvError with every problem found."""
    reader = csv.DictReader(io.StringIO(text))
    errors: list[RowError] = []
    missing = [c for c in ("id", "kind", "currency") if c not in (reader.fieldnames or [])]
    unknown = [c for c in (reader.fieldnames or []) if c not in IMPORT_COLUMNS]
    if missing or unknown:
        problems = [RowError(1, c, "missing column") for c in missing]
        problems += [RowError(1, c, f"unknown column (columns: {', '.join(IMPORT_COLUMNS)})")
                     for c in unknown]  # fmt: skip
        raise AccountsCsvError(problems)
    rows: list[_Row] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        account_id = (raw.get("id") or "").strip()
        kind = (raw.get("kind") or "").strip()
        currency = (raw.get("currency") or "").strip().upper()
        if not account_id:
            errors.append(RowError(line, "id", "empty"))
        elif account_id in seen:
            errors.append(RowError(line, "id", f"{account_id!r} appears twice in the file"))
        seen.add(account_id)
        if kind not in IMPORTABLE_KINDS:
            errors.append(RowError(line, "kind", f"{kind!r}: one of {', '.join(IMPORTABLE_KINDS)}"))
        try:
            Money.of(0, currency)
        except (PaymentError, ValueError) as error:
            errors.append(RowError(line, "currency", str(error)))
            continue
        limit = _amount(raw.get("credit_limit") or "", currency, line, "credit_limit", errors)
        if limit is not None and kind == "wallet" and limit.minor > 0:
            errors.append(RowError(line, "credit_limit", "a wallet is prepaid: no credit limit"))
        opening = _amount(raw.get("opening_balance") or "", currency, line, "opening_balance",
                          errors)  # fmt: skip
        rows.append(_Row(account_id, kind, currency, (raw.get("name") or "").strip(), limit,
                         opening))  # fmt: skip
    if errors:
        raise AccountsCsvError(errors)
    return rows


def import_accounts_csv(ledger: Ledger, text: str) -> list[Account]:
    """Open every account of the file (all rows checked first; see the module docstring)."""
    rows = parse_accounts_csv(text)
    taken: list[RowError] = []
    for line, row in enumerate(rows, start=2):
        try:
            ledger.get_account(row.id)
        except UnknownAccount:
            continue
        taken.append(RowError(line, "id", f"account {row.id!r} exists already"))
    if taken:
        raise AccountsCsvError(taken)
    opened = []
    for row in rows:
        ledger.open_account(row.kind, row.currency, account_id=row.id, name=row.name,
                            credit_limit=row.credit_limit)  # fmt: skip
        if row.opening is not None and row.opening.minor > 0:
            ledger.top_up(row.id, row.opening, f"import:{row.id}:opening", reference="CSV import")
        opened.append(ledger.get_account(row.id))
    return opened
