"""Field parsers and file opening shared by the session loaders.

Each parser raises ``ValueError`` with a message naming the field, which the loaders prefix with
the file and line.
"""

from __future__ import annotations

import gzip
import io
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"


def open_text(path: Path) -> IO[str]:
    """``path`` opened for reading text, gunzipped when it is gzip (by content, not by name)."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == GZIP_MAGIC
    if compressed:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def iso_utc(field: str, text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (``2019-05-01 01:18:45-07:00``, ``...Z``) in UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ValueError(f"{field}: {text!r} has no UTC offset (write e.g. 2019-05-01T08:00Z)")
    return value.astimezone(UTC)


def optional_iso_utc(field: str, text: str | None) -> datetime | None:
    return None if text is None or not text.strip() else iso_utc(field, text)


def http_date_utc(field: str, text: object) -> datetime:
    """An RFC 1123 date as ACN-Data writes them (``Wed, 25 Apr 2018 11:08:04 GMT``) in UTC."""
    if not isinstance(text, str):
        raise ValueError(f"{field}: expected an RFC 1123 date string, got {text!r}")
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise ValueError(f"{field}: {text!r} is not an RFC 1123 date") from None
    if value.tzinfo is None:  # "-0000" means UTC with no claim about local time
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def kwh(field: str, value: object) -> float:
    """A finite, non-negative energy [kWh] from a number or its text."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{field}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{field}: {value!r} must be a finite number >= 0")
    return number


def optional_positive(field: str, text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{field}: {text!r} must be a positive number")
    return number


def boolean(field: str, text: str) -> bool:
    """``True``/``False`` (any case) or ``1``/``0``."""
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{field}: {text!r} is not True or False")
