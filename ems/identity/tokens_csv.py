"""Id tokens as CSV: the import checks every row and reports each problem with its line.

Columns (a header line names them, in any order; only ``id_token`` is required)::

    id_token,type,status,expires_at,group_id,account_id,max_concurrent_tx,valid_at,label

``type`` defaults to ISO14443 and ``status`` to Accepted; ``expires_at`` is ISO 8601 with a time
zone (``2027-01-31T23:59:59Z``); ``valid_at`` lists charge points or EVSEs separated by spaces
(``CP-1 CP-2/1``); empty cells are "none". Export writes the same columns, so an exported file
imports back to the same tokens.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ems.identity.tokens import (
    Location,
    TokenError,
    TokenRecord,
    TokenStatus,
    TokenType,
    check_record,
)

COLUMNS = (
    "id_token",
    "type",
    "status",
    "expires_at",
    "group_id",
    "account_id",
    "max_concurrent_tx",
    "valid_at",
    "label",
)
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem in the file: its line (1 is the header), the column, what is wrong."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class CsvImportError(ValueError):
    """The file cannot be imported; ``errors`` has every problem found, by line."""

    def __init__(self, errors: list[RowError]) -> None:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} error(s) in the CSV file: {shown}{more}")
        self.errors = errors


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise TokenError("expires_at", f"{text!r} needs a time zone (e.g. 2027-01-31T23:59:59Z)")
    return value.astimezone(UTC)


def _record(cells: dict[str, str]) -> TokenRecord:
    def cell(name: str) -> str | None:
        value = (cells.get(name) or "").strip()
        return value or None

    id_token = cell("id_token") or ""
    try:
        type_ = TokenType(cell("type") or TokenType.ISO14443)
    except ValueError:
        raise TokenError(
            "type", f"{cell('type')!r} is not one of {', '.join(t.value for t in TokenType)}"
        ) from None
    try:
        status = TokenStatus(cell("status") or TokenStatus.ACCEPTED)
    except ValueError:
        raise TokenError(
            "status", f"{cell('status')!r} is not one of {', '.join(s.value for s in TokenStatus)}"
        ) from None
    expires = cell("expires_at")
    try:
        expires_at = _time(expires) if expires else None
    except ValueError as error:
        if isinstance(error, TokenError):
            raise
        raise TokenError("expires_at", f"{expires!r} is not an ISO 8601 date and time") from None
    concurrent = cell("max_concurrent_tx")
    if concurrent is not None and not concurrent.isdigit():
        raise TokenError("max_concurrent_tx", f"{concurrent!r} is not a whole number")
    valid_at = tuple(Location.parse(part) for part in (cell("valid_at") or "").split())
    record = TokenRecord(
        id_token=id_token,
        type=type_,
        status=status,
        expires_at=expires_at,
        group_id=cell("group_id"),
        account_id=cell("account_id"),
        max_concurrent_tx=int(concurrent) if concurrent is not None else None,
        valid_at=valid_at,
        label=cell("label"),
    )
    check_record(record)
    return record


def read_tokens_csv(text: str) -> list[tuple[int, TokenRecord]]:
    """Every row as (line, record); :class:`CsvImportError` with all problems if any."""
    errors: list[RowError] = []
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise CsvImportError([RowError(1, None, "the file is empty: a header line is needed")])
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        errors.append(
            RowError(1, None, f"unknown column(s) {', '.join(unknown)}; use {', '.join(COLUMNS)}")
        )
    if "id_token" not in header:
        errors.append(RowError(1, None, "the column id_token is required"))
    if len(set(header)) != len(header):
        errors.append(RowError(1, None, "a column appears twice"))
    if errors:
        raise CsvImportError(errors)
    reader.fieldnames = header
    records: list[tuple[int, TokenRecord]] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if len(records) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"more than {MAX_ROWS} rows: split the file"))
            break
        if None in row:
            errors.append(RowError(line, None, f"more cells than the {len(header)} columns"))
            continue
        cells = {k: v for k, v in row.items() if v is not None}
        if not any(value.strip() for value in cells.values()):
            continue  # blank line
        try:
            record = _record(cells)
        except TokenError as error:
            errors.append(RowError(line, error.field, error.message))
            continue
        key = record.id_token.casefold()
        if key in first_line:
            errors.append(
                RowError(line, "id_token", f"{record.id_token!r} is on line {first_line[key]} too")
            )
            continue
        first_line[key] = line
        records.append((line, record))
    if errors:
        raise CsvImportError(errors)
    return records


def _format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_tokens_csv(records: Iterable[TokenRecord]) -> str:
    """The tokens as CSV with a header line, in the columns :func:`read_tokens_csv` reads."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(
            [
                record.id_token,
                record.type.value,
                record.status.value,
                _format_time(record.expires_at),
                record.group_id or "",
                record.account_id or "",
                "" if record.max_concurrent_tx is None else str(record.max_concurrent_tx),
                " ".join(str(loc) for loc in record.valid_at),
                record.label or "",
            ]
        )
    return out.getvalue()
