"""The statistics' tables as CSV and Parquet files (bytes), and as JSON-ready records.

Times are written as aware UTC: ISO 8601 with ``+00:00`` in CSV, ``timestamp[us, UTC]`` in
Parquet. A figure that does not exist (a mean without finished sessions, money without a
tariff) is empty in CSV, null in Parquet and JSON. The Parquet file's metadata names the scope,
range, period and currency.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
#: Registered with IANA in 2024 for Apache Parquet files.
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def to_csv(table: pd.DataFrame) -> bytes:
    """``table`` as UTF-8 CSV with a header line; times in ISO 8601 UTC."""
    out = table.copy()
    for name in ("start", "end"):
        if name in out:
            out[name] = [_iso(value) for value in out[name]]
    return out.to_csv(index=False, lineterminator="\n").encode()


def to_parquet(table: pd.DataFrame, metadata: Mapping[str, str] | None = None) -> bytes:
    """``table`` as a Parquet file; ``metadata`` goes into the file's key-value metadata."""
    out = table.copy()
    for name in ("start", "end"):
        if name in out:
            out[name] = pd.to_datetime(out[name], utc=True).astype("datetime64[us, UTC]")
    arrow = pa.Table.from_pandas(out, preserve_index=False)
    if metadata:
        merged = dict(arrow.schema.metadata or {})
        merged.update({key.encode(): value.encode() for key, value in metadata.items()})
        arrow = arrow.replace_schema_metadata(merged)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue()


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row with plain Python values; NaN becomes None."""
    out = []
    for row in table.to_dict(orient="records"):
        out.append({str(key): _plain(value) for key, value in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def _iso(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    assert isinstance(value, datetime)
    return value.isoformat()
